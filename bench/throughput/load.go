package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The load a My Number server makes, as one operation repeated at a set
// rate by a process of its own (so the sensor attributes it to that
// process and its taint): every operation writes a record holding My
// Numbers to one of 1,000 files outside the protected directory; every
// 4th also reads the protected roster (which keeps the process tainted:
// its writes are sampled and scanned); every 20th connects to a loopback
// listener; every 50th runs /bin/true (fork, exec, exit). The files and
// contents vary so that the kernel's folding of identical repeated calls
// does not swallow the load.

// loadMain is `throughput load DIR RATE SECONDS WORKERS`: run the
// operations at RATE per second for SECONDS, then print the operations
// done on stdout.
func loadMain(args []string) error {
	if len(args) != 4 {
		return fmt.Errorf("usage: throughput load DIR RATE SECONDS WORKERS")
	}
	dir := args[0]
	rate, err1 := strconv.ParseFloat(args[1], 64)
	secs, err2 := strconv.ParseFloat(args[2], 64)
	workers, err3 := strconv.Atoi(args[3])
	if err1 != nil || err2 != nil || err3 != nil || rate <= 0 || secs <= 0 || workers <= 0 {
		return fmt.Errorf("load: bad arguments %q", args)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	records := loadRecords()
	var ops atomic.Int64
	var failed atomic.Value
	start := time.Now()
	end := start.Add(time.Duration(secs * float64(time.Second)))
	per := rate / float64(workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			runtime.LockOSThread()
			buf := make([]byte, 4096)
			for n := 0; ; n++ {
				// Pace: operation n of this worker is due at start + n/per.
				due := start.Add(time.Duration(float64(n) / per * float64(time.Second)))
				now := time.Now()
				if now.After(end) {
					return
				}
				if d := due.Sub(now); d > 0 {
					time.Sleep(d)
				}
				i := n*workers + w
				if err := operation(dir, i, records[i%len(records)], buf, ln.Addr().String()); err != nil {
					failed.Store(err)
					return
				}
				ops.Add(1)
			}
		}(w)
	}
	wg.Wait()
	if err, ok := failed.Load().(error); ok {
		return err
	}
	fmt.Println(ops.Load())
	return nil
}

func operation(dir string, i int, record []byte, buf []byte, addr string) error {
	if i%4 == 0 {
		f, err := os.Open(filepath.Join(dir, "protected", "roster.csv"))
		if err != nil {
			return err
		}
		_, err = f.Read(buf)
		f.Close()
		if err != nil {
			return err
		}
	}
	name := filepath.Join(dir, "out", "export-"+strconv.Itoa(i%1000)+".csv")
	// Rewritten in place, not truncated: every record has the same
	// length, and ext4 flushes a file truncated and written again to disk
	// at close (auto_da_alloc), which made the load generator, not the
	// sensor, the limit of the rate.
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(record)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if i%20 == 0 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		c.Close()
	}
	if i%50 == 0 {
		cmd := exec.Command("/bin/true")
		cmd.SysProcAttr = &syscall.SysProcAttr{}
		if err := cmd.Run(); err != nil {
			return err
		}
	}
	return nil
}

// recordSize is the length of every record.
const recordSize = 600

// loadRecords are 64 different records of recordSize bytes, each with
// three My Numbers and their holders' names and birth dates, as an export
// of a personnel system would write them.
func loadRecords() [][]byte {
	nums := myNumbers(192)
	var out [][]byte
	for r := 0; r < 64; r++ {
		var b strings.Builder
		b.WriteString("社員番号,氏名,生年月日,個人番号,部署\n")
		for k := 0; k < 3; k++ {
			fmt.Fprintf(&b, "%06d,従業員%03d,19%02d-%02d-%02d,%s,経理部 第%d課\n", r*3+k, r*3+k, 60+(r+k)%40, 1+k*4, 1+r%28, nums[r*3+k], k+1)
		}
		for b.Len() < 512 {
			b.WriteString("# 備考: 年末調整のための扶養控除等申告書より転記\n")
		}
		// One length for all (padded with spaces), so a rewrite in place
		// leaves no tail of a longer record.
		rec := []byte(b.String())
		rec = append(rec, bytes.Repeat([]byte(" "), recordSize-1-len(rec))...)
		out = append(out, append(rec, '\n'))
	}
	return out
}

// myNumbers returns n distinct individual numbers with correct check
// digits (総務省令第85号 §5), deterministic, for the load's content.
func myNumbers(n int) []string {
	weights := [11]int{6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2}
	var out []string
	x := uint64(88172645463325252)
	for len(out) < n {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		v := x
		var d [12]byte
		sum := 0
		for i := 0; i < 11; i++ {
			d[i] = byte(v % 10)
			v /= 10
			sum += int(d[i]) * weights[i]
		}
		c := 0
		if r := sum % 11; r > 1 {
			c = 11 - r
		}
		d[11] = byte(c)
		s := make([]byte, 12)
		for i := range d {
			s[i] = '0' + d[i]
		}
		out = append(out, string(s))
	}
	return out
}
