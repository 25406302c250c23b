// Package deploy holds no code: its tests check the files beside it that
// deploy and watch jwtcache, with the tools their users run where this
// machine has them.
//
//   - image/Dockerfile, built by `make image` (docker or podman): the
//     binary taken back out of the image is static and runs.
//   - kubernetes/, rendered by `kubectl kustomize`: the objects and their
//     security settings.
//   - compose/compose.yaml: every variable it sets is one jwtcache reads,
//     and the replicas reach Redis and the development token service.
//   - prometheus/alerts.yaml: `promtool check rules` and the rule unit
//     tests in alerts_test.yaml.
//   - grafana/jwtcache.json and the rules name only metrics a live
//     registry serves, and that scrape passes `promtool check metrics`.
//
// A test whose tool is missing is skipped with a message saying which;
// .ci/run installs them all.
package deploy
