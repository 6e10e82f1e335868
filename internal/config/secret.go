package config

import (
	"fmt"
	"net/url"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Secret keys carry the tag secret:"true" (passwords, the API key, the
// hash key, request headers that may carry tokens). Their values are
// never shown: not in errors, not by config check.

// secretKeys lists the secret keys, sorted.
func secretKeys() []string {
	var out []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name := f.Tag.Get("mapstructure")
			if name == "" {
				continue
			}
			k := prefix + name
			if f.Tag.Get("secret") == "true" {
				out = append(out, k)
			}
			if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Duration(0)) {
				walk(f.Type, k+".")
			}
		}
	}
	walk(reflect.TypeOf(Config{}), "")
	sort.Strings(out)
	return out
}

// Secret reports whether key (or the list key it indexes) is secret.
func Secret(key string) bool {
	if i := strings.IndexByte(key, '['); i >= 0 {
		key = key[:i]
	}
	for _, k := range secretKeys() {
		if k == key {
			return true
		}
	}
	return false
}

// secretParent is the secret key k lies under (k is a key inside a
// secret's value), or "".
func secretParent(k string) string {
	for _, s := range secretKeys() {
		if strings.HasPrefix(k, s+".") {
			return s
		}
	}
	return ""
}

// typeName says what a key takes, for messages.
func typeName(key string) string {
	switch t := keyTypes()[key]; {
	case t == "string":
		return "a string"
	case strings.HasPrefix(t, "list of "):
		return "a list of " + strings.TrimPrefix(t, "list of ") + "s"
	case t != "":
		return "a " + t
	}
	return "a value"
}

var gotType = regexp.MustCompile(`got unconvertible type '([^']*)'`)

// wrongType names the type a mapstructure error says it got, if it says:
// only the Go type, nothing of the value.
func wrongType(line string) string {
	m := gotType.FindStringSubmatch(line)
	if m == nil {
		return ""
	}
	switch {
	case strings.HasPrefix(m[1], "[]"):
		return ", not a list"
	case strings.HasPrefix(m[1], "map["):
		return ", not a mapping"
	case m[1] == "bool" || strings.HasPrefix(m[1], "int") || strings.HasPrefix(m[1], "float"):
		return ", not a " + m[1]
	}
	return ""
}

// RedactURL is a URL as it may be shown: its password replaced by xxxxx
// (url.URL.Redacted); a value that does not parse is not shown at all.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(not shown: not a valid URL)"
	}
	if u.User != nil {
		// The user name may be a token too (https://TOKEN@host).
		if _, has := u.User.Password(); !has {
			u.User = url.User("xxxxx")
		}
	}
	return u.Redacted()
}

// checkURL checks an http(s) URL value; the message shows it redacted.
func checkURL(key, raw string) *Error {
	u, err := url.Parse(raw)
	if err != nil {
		return &Error{Key: key, Msg: "not a valid URL (the value is not shown: it may hold credentials)"}
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return &Error{Key: key, Msg: fmt.Sprintf("%s is not an http:// or https:// URL", RedactURL(raw))}
	}
	if u.Host == "" {
		return &Error{Key: key, Msg: fmt.Sprintf("%s has no host", RedactURL(raw))}
	}
	return nil
}
