package embedded

import (
	"testing"

	"github.com/jwtcache/jwtcache/app"
	"github.com/jwtcache/jwtcache/config"
)

// TestConfigFloorsAreTheCoreFloors: a JWT_HEALTH_CHECK_INTERVAL that
// config accepts is one the core accepts.
func TestConfigFloorsAreTheCoreFloors(t *testing.T) {
	if config.MinHealthCheckInterval != app.MinHealthCheckInterval {
		t.Errorf("config.MinHealthCheckInterval %v, app.MinHealthCheckInterval %v", config.MinHealthCheckInterval, app.MinHealthCheckInterval)
	}
}
