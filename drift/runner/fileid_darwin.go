package runner

import "syscall"

func ctime(st *syscall.Stat_t) (sec, nsec int64) { return st.Ctimespec.Unix() }
