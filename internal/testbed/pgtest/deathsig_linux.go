package pgtest

import "syscall"

// quitWithParent stops the server when the test binary dies: SIGQUIT is an
// immediate shutdown, and backends exit with the postmaster.
func quitWithParent(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGQUIT }
