package content_test

import (
	"fmt"
	"log"

	"github.com/bansho-sec/bansho/pipeline/content"
)

func Example() {
	key, err := content.ParseHashKey("example key: set a secret per deployment")
	if err != nil {
		log.Fatal(err)
	}
	d, err := content.NewDetector(content.Config{HashKey: key})
	if err != nil {
		log.Fatal(err)
	}
	// 123456789018 is the ordinance's example, not a person's number.
	r := d.Scan([]byte("マイナンバー：1234-5678-9018"))
	f := r.MyNumber
	fmt.Println(f.Occurrences, f.Confidence, f.Reasons, r.Encodings, len(f.Hashes[0]))
	// Output: 1 high [checksum keyword separator:4-4-4] [ascii] 64
}

func ExampleStream() {
	d, err := content.NewDetector(content.Config{HashKey: []byte("example key")})
	if err != nil {
		log.Fatal(err)
	}
	s := d.NewStream()
	// A number split across writes, in UTF-16LE as Windows "Unicode text".
	s.Write([]byte{'1', 0, '2', 0, '3', 0, '4', 0, '5', 0})
	s.Write([]byte{'6', 0, '7', 0, '8', 0, '9', 0, '0', 0, '1', 0, '8', 0, '\n', 0})
	r := s.Result()
	fmt.Println(r.MyNumber.Occurrences, r.MyNumber.Confidence, r.Encodings, content.Mask(content.MyNumber))
	// Output: 1 low [utf-16le] ****-****-****
}
