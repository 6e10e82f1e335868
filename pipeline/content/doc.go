// Package content finds Japanese individual numbers (個人番号, "My Number",
// 12 digits, check digit last) and corporate numbers (法人番号, 13 digits,
// check digit first) in raw bytes, without knowing their encoding.
//
// It matches ASCII and full-width digits in UTF-8, CP932 (Shift_JIS) and
// UTF-16 of either byte order, written plain or in groups (4-4-4, and
// 1-4-4-4 for corporate numbers) with one kind of separator: hyphen, space,
// dot, full-width hyphen, minus sign, ー or an ideographic space, encoded
// like the digits. A number must stand alone: a longer run of digits, a
// card number in four groups, a phone number or a decimal holds none.
//
// A number found is never kept or exported. A Result holds counts, the
// encodings and layouts seen, a confidence with its reasons, and the
// lowercase hex HMAC-SHA256 of each distinct number's ASCII digits under a
// per-deployment key (Config.HashKey), so one person is counted once across
// files, hosts and days without the number itself leaving the detector.
//
// Detector is immutable and safe for concurrent use; Stream carries one
// stream's state in bounded memory. See docs/content-detection.md.
package content
