package sensor

import "github.com/bansho-sec/bansho/internal/event"

// selfSize is struct self_event (bpf/include/bansho.h).
const selfSize = hdrSize + procSize + 40

func decodeSelf(b []byte) *event.Self {
	return &event.Self{
		Ret:       int64(le.Uint64(b[0:])),
		Request:   int64(le.Uint64(b[8:])),
		Syscall:   le.Uint32(b[16:]),
		Signal:    int32(le.Uint32(b[20:])),
		SigCode:   int32(le.Uint32(b[24:])),
		TargetPID: le.Uint32(b[28:]),
		TargetTID: le.Uint32(b[32:]),
	}
}
