package content

// Check digits, after 総務省令第85号 (2014) §5 for individual numbers and
// 財務省令第70号 (2014) §2 for corporate numbers. Both functions take ASCII
// digits ('0'..'9'); any other byte makes the number invalid.

// myNumberWeights are Q_n for the first 11 digits read left to right.
var myNumberWeights = [11]int{6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2}

// MyNumberValid reports whether d, 12 ASCII digits, is an individual number
// (個人番号) with a correct check digit (the last digit).
func MyNumberValid(d [12]byte) bool {
	var v [12]byte
	for i, c := range d {
		if c < '0' || c > '9' {
			return false
		}
		v[i] = c - '0'
	}
	return myNumberCheck(v) == v[11]
}

// CorporateNumberValid reports whether d, 13 ASCII digits, is a corporate
// number (法人番号) with a correct check digit (the first digit).
func CorporateNumberValid(d [13]byte) bool {
	var v [13]byte
	for i, c := range d {
		if c < '0' || c > '9' {
			return false
		}
		v[i] = c - '0'
	}
	return corporateCheck(v) == v[0]
}

// myNumberOK and corporateOK check ASCII digits known to be digits, on the
// scanner's hot path; they compute the same as the functions above.
func myNumberOK(d *[13]byte) bool {
	s := 6*int(d[0]) + 5*int(d[1]) + 4*int(d[2]) + 3*int(d[3]) + 2*int(d[4]) +
		7*int(d[5]) + 6*int(d[6]) + 5*int(d[7]) + 4*int(d[8]) + 3*int(d[9]) + 2*int(d[10]) -
		47*'0' // the weights sum to 47
	c := 0
	if r := s % 11; r > 1 {
		c = 11 - r
	}
	return int(d[11]-'0') == c
}

func corporateOK(d *[13]byte) bool {
	s := 2*int(d[1]) + int(d[2]) + 2*int(d[3]) + int(d[4]) + 2*int(d[5]) + int(d[6]) +
		2*int(d[7]) + int(d[8]) + 2*int(d[9]) + int(d[10]) + 2*int(d[11]) + int(d[12]) -
		18*'0' // the weights sum to 18
	return int(d[0]-'0') == 9-s%9
}

// myNumberCheck computes the check digit of v, digit values 0-9.
func myNumberCheck(v [12]byte) byte {
	sum := 0
	for i, w := range myNumberWeights {
		sum += int(v[i]) * w
	}
	r := sum % 11
	if r <= 1 {
		return 0
	}
	return byte(11 - r)
}

// corporateCheck computes the check digit of v, digit values 0-9: the
// rightmost of the last 12 digits weighs 1, the next 2, alternating.
func corporateCheck(v [13]byte) byte {
	sum := 0
	for i := 1; i <= 12; i++ {
		w := 1
		if (13-i)%2 == 0 {
			w = 2
		}
		sum += int(v[i]) * w
	}
	return byte(9 - sum%9)
}

// Kind is the kind of number a finding is about.
type Kind uint8

const (
	// MyNumber is the 12-digit individual number (個人番号).
	MyNumber Kind = iota
	// CorporateNumber is the 13-digit corporate number (法人番号).
	CorporateNumber
	numKinds
)

func (k Kind) String() string {
	switch k {
	case MyNumber:
		return "my_number"
	case CorporateNumber:
		return "corporate_number"
	}
	return "unknown"
}

// Mask returns the shape of a number of kind k with every digit hidden, for
// messages that must say "a number was here" without showing any of it.
func Mask(k Kind) string {
	if k == CorporateNumber {
		return "*-****-****-****"
	}
	return "****-****-****"
}
