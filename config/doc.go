// Package config is jwtcache's typed configuration and the one place that
// reads it.
//
// Load layers three sources, each overriding the one before:
//
//	defaults  <  YAML file (--config flag or JWT_CONFIG_FILE)  <  environment
//
// The environment variables are the ones of the user's design guide, by
// their exact names, and the YAML file mirrors the guide's Spring
// application.yaml tree, so a guide-style file can be reused as it is: a
// value of the form ${NAME} or ${NAME:default} is looked up in the
// environment and counts as unset when NAME is not set. Every key, with its
// environment variable, YAML key, format, default and meaning, is listed by
// Keys; the project README holds the same table, checked by a test.
//
// Values are read as strings and parsed here, not by koanf, so that a bad
// value is reported with both its environment variable and YAML key and
// what is wrong with it. All problems are reported together. Secrets (the
// client secrets, the API keys and the Redis password) are held as Secret,
// which never prints its value, and no error ever echoes them.
//
// Two things have no environment variable, since a variable name cannot
// carry a service name such as data-processor: the per-service clients of
// the YAML mapping jwt.services.<name> (see ServiceClientConfig), and the
// structured form of the API key list. Their secrets can still come from
// the environment through ${NAME} placeholders.
package config
