// Package rlimit reads the process's open-file limit (ulimit -n), which
// bounds the connections the REST listener may hold and is checked
// against SERVER_MAX_CONNECTIONS at start-up: one reading for both.
package rlimit
