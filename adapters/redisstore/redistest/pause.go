package redistest

import "syscall"

// Pause stops the server process with SIGSTOP: it keeps its connections
// and its port, and answers nothing, as a hung Redis or a network black
// hole would. Resume lets it go on; Stop kills it either way.
func (s *Server) Pause() { s.signal(syscall.SIGSTOP) }

// Resume continues a server stopped by Pause.
func (s *Server) Resume() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig syscall.Signal) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		s.t.Fatalf("redis-server at %s is not running", s.Addr)
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("signal redis-server at %s: %v", s.Addr, err)
	}
}
