package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
)

// writeRunImage writes to path the root image followed by a second archive
// holding /etc/bansho-kt.conf: the kernel unpacks concatenated newc
// archives in order, so the filters change without rebuilding the image.
func writeRunImage(root, path, conf string) error {
	in, err := os.Open(root)
	if err != nil {
		return fmt.Errorf("%v (test/kernels/image.sh builds it)", err)
	}
	defer in.Close()
	out, err := os.Create(path + ".new")
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	var b bytes.Buffer
	newcEntry(&b, "etc/bansho-kt.conf", 0o100644, []byte(conf))
	newcEntry(&b, "TRAILER!!!", 0, nil)
	if _, err := out.Write(b.Bytes()); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Rename(path+".new", path)
}

// newcEntry appends one entry of the "new ASCII" cpio format: a header of
// thirteen 8-digit hex fields after the magic 070701, the name with its
// NUL, the data; name and data each padded to 4 bytes.
func newcEntry(b *bytes.Buffer, name string, mode uint32, data []byte) {
	pad := func() {
		for b.Len()%4 != 0 {
			b.WriteByte(0)
		}
	}
	nlink := 1
	fmt.Fprintf(b, "070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		0, mode, 0, 0, nlink, 0, len(data), 0, 0, 0, 0, len(name)+1, 0)
	b.WriteString(name)
	b.WriteByte(0)
	pad()
	b.Write(data)
	pad()
}
