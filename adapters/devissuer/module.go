package devissuer

import "go.uber.org/fx"

// Module provides a *Server built from the Options in the graph; starting
// it (ListenAndServe, Close on stop) is left to the caller, which knows the
// address.
var Module = fx.Module("devissuer", fx.Provide(New))
