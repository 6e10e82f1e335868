package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bansho-sec/bansho/internal/testutil"
)

// myNumbers makes n distinct valid individual numbers (check digit per the
// MIC ordinance), from a fixed seed.
func myNumbers(n int) []string {
	r := rand.New(rand.NewSource(7))
	seen := map[string]bool{}
	var out []string
	for len(out) < n {
		var d [12]int
		for i := 0; i < 11; i++ {
			d[i] = r.Intn(10)
		}
		sum := 0
		for i := 0; i < 11; i++ { // P_n from the right, Q_n = n+1 (n<=6) else n-5
			pn := 11 - i
			q := pn + 1
			if pn > 6 {
				q = pn - 5
			}
			sum += d[i] * q
		}
		if rem := sum % 11; rem <= 1 {
			d[11] = 0
		} else {
			d[11] = 11 - rem
		}
		s := ""
		for _, x := range d {
			s += fmt.Sprint(x)
		}
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func TestContentFindingsOnSendsAndCopies(t *testing.T) {
	testutil.RequireBPF(t)
	prot, outside := t.TempDir(), t.TempDir()
	numbers := myNumbers(40)
	var csv strings.Builder
	csv.WriteString("氏名,個人番号\n")
	for i, n := range numbers {
		fmt.Fprintf(&csv, "社員%d,%s\n", i, n)
	}
	roster := filepath.Join(prot, "roster.csv")
	if err := os.WriteFile(roster, []byte(csv.String()), 0o600); err != nil {
		t.Fatal(err)
	}

	var received int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		received += n
	}))
	defer srv.Close()

	out := filepath.Join(t.TempDir(), "events.json")
	p := runSensor(t, writeConfig(t, fileConfig(prot, out, "content:\n  hash_key: 0123456789abcdef0123456789abcdef\n")), out)

	// An upload: cat reads the protected file and pipes it to curl.
	up := exec.Command("/bin/sh", "-c", fmt.Sprintf("cat %s | curl -s -T - %s/upload", roster, srv.URL))
	if o, err := up.CombinedOutput(); err != nil {
		t.Fatalf("upload: %v %s", err, o)
	}
	send := waitDoc(t, out, 3*time.Second, func(d map[string]any) bool {
		return field(d, "process.name") == "curl" && field(d, "event.action") == "send" &&
			field(d, "bansho.content.my_number.distinct") != nil && field(d, "bansho.content.my_number.distinct").(float64) > 0
	})
	if send == nil {
		t.Fatal("no send event with content findings for curl")
	}
	if got := field(send, "bansho.content.my_number.distinct"); got != float64(len(numbers)) {
		t.Errorf("curl send: %v distinct my numbers, want %d", got, len(numbers))
	}
	if field(send, "destination.port") == nil || field(send, "bansho.network.tainted") != true {
		t.Errorf("send document: %v", send)
	}

	// The same upload over HTTPS: the plaintext is seen at SSL_write.
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
	}))
	defer tlsSrv.Close()
	up = exec.Command("/bin/sh", "-c", fmt.Sprintf("cat %s | curl -sk -T - %s/upload", roster, tlsSrv.URL))
	if o, err := up.CombinedOutput(); err != nil {
		t.Fatalf("https upload: %v %s", err, o)
	}
	tlsSend := waitDoc(t, out, 3*time.Second, func(d map[string]any) bool {
		return field(d, "process.name") == "curl" && field(d, "bansho.network.tls") == true &&
			field(d, "bansho.content.my_number.distinct") != nil
	})
	if tlsSend == nil {
		t.Fatal("no TLS plaintext event with content findings for curl over HTTPS")
	}
	if got := field(tlsSend, "bansho.content.my_number.distinct"); got != float64(len(numbers)) {
		t.Errorf("curl over HTTPS: %v distinct, want %d", got, len(numbers))
	}

	// A copy outside the protected directory (cp uses copy_file_range).
	dst := filepath.Join(outside, "copy.csv")
	cp := exec.Command("/bin/cp", roster, dst)
	if err := cp.Run(); err != nil {
		t.Fatal(err)
	}
	w := waitDoc(t, out, 3*time.Second, func(d map[string]any) bool {
		return field(d, "event.action") == "write" && field(d, "file.path") == dst &&
			field(d, "bansho.content.my_number.distinct") != nil
	})
	if w == nil {
		t.Fatal("no write event with content findings for the copy")
	}
	if got := field(w, "bansho.content.my_number.distinct"); got != float64(len(numbers)) {
		t.Errorf("cp write: %v distinct, want %d", got, len(numbers))
	}
	if c := field(w, "bansho.content.my_number.confidence"); c != "high" && c != "medium" {
		t.Errorf("confidence %v for a CSV with a 個人番号 header", c)
	}

	// An unrelated process writing digits is not tainted: nothing scanned.
	other := filepath.Join(outside, "other.txt")
	exec.Command("/bin/sh", "-c", "echo "+numbers[0]+" > "+other).Run()
	time.Sleep(700 * time.Millisecond)
	for _, d := range docs(t, out) {
		if field(d, "file.path") == other && field(d, "bansho.content") != nil {
			t.Errorf("untainted write scanned: %v", d)
		}
	}

	// bansho scan, over the same bytes at rest, agrees with the sensor:
	// the same count and the same keyed hashes. (Last: reading scan's
	// output through a pipe rightly taints this test process.)
	scanOut, err := exec.Command(binary, "scan", "--format", "json", "--hash-key", "0123456789abcdef0123456789abcdef", roster).Output()
	if err != nil {
		t.Fatalf("bansho scan: %v", err)
	}
	var rep struct {
		MyNumber struct {
			Distinct int      `json:"distinct"`
			Hashes   []string `json:"hashes"`
		} `json:"my_number"`
	}
	if err := json.Unmarshal(scanOut, &rep); err != nil {
		t.Fatalf("scan output: %v", err)
	}
	sensorHashes := fmt.Sprint(field(send, "bansho.content.my_number.hashes"))
	if rep.MyNumber.Distinct != len(numbers) || fmt.Sprint(rep.MyNumber.Hashes) != sensorHashes {
		t.Errorf("scan found %d distinct, the sensor %v; hashes equal: %v", rep.MyNumber.Distinct,
			field(send, "bansho.content.my_number.distinct"), fmt.Sprint(rep.MyNumber.Hashes) == sensorHashes)
	}

	p.term()
	// Never a raw number in the output.
	raw, _ := os.ReadFile(out)
	for _, n := range numbers {
		if strings.Contains(string(raw), n) {
			t.Fatalf("a raw My Number (masked: ****-****-%s) is in the output", "****")
		}
	}
}
