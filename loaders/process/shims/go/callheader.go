// The worker's JSON: a small decoder for the CALL header fnhost sends and an encoder for the
// RESULT header, without reflection (encoding/json cost this worker a third of its CPU).
// Part of fnhost's Go worker (`fnhost build go` writes it next to main.go). Do not edit.
package main

import (
	"errors"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

type scanner struct {
	b []byte
	i int
}

var errSyntax = errors.New("bad JSON in the CALL header")

// decodeCall reads the CALL header into h; members it does not know are skipped.
func decodeCall(b []byte, h *callHeader) error {
	s := &scanner{b: b}
	return s.object(func(key string) error {
		switch key {
		case "method":
			return s.str(&h.Method)
		case "path":
			return s.str(&h.Path)
		case "query":
			return s.str(&h.Query)
		case "timeout_ms":
			n, err := s.number()
			h.TimeoutMs = int64(n)
			return err
		case "headers":
			return s.array(func() error {
				var kv [2]string
				n := 0
				err := s.array(func() error {
					if n < 2 {
						n++
						return s.str(&kv[n-1])
					}
					return s.skip()
				})
				h.Headers = append(h.Headers, kv)
				return err
			})
		case "event":
			return s.object(func(key string) error {
				switch key {
				case "id":
					return s.optStr(&h.Event.ID)
				case "type":
					return s.optStr(&h.Event.Type)
				case "time":
					return s.optStr(&h.Event.Time)
				case "namespace":
					return s.optStr(&h.Event.Namespace)
				}
				return s.skip()
			})
		}
		return s.skip()
	})
}

func (s *scanner) ws() {
	for s.i < len(s.b) && (s.b[s.i] == ' ' || s.b[s.i] == '\t' || s.b[s.i] == '\n' || s.b[s.i] == '\r') {
		s.i++
	}
}

func (s *scanner) peek() byte {
	s.ws()
	if s.i >= len(s.b) {
		return 0
	}
	return s.b[s.i]
}

func (s *scanner) expect(c byte) error {
	if s.peek() != c {
		return errSyntax
	}
	s.i++
	return nil
}

func (s *scanner) object(member func(key string) error) error {
	if err := s.expect('{'); err != nil {
		return err
	}
	if s.peek() == '}' {
		s.i++
		return nil
	}
	for {
		var key string
		if err := s.str(&key); err != nil {
			return err
		}
		if err := s.expect(':'); err != nil {
			return err
		}
		if err := member(key); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return nil
		default:
			return errSyntax
		}
	}
}

func (s *scanner) array(item func() error) error {
	if err := s.expect('['); err != nil {
		return err
	}
	if s.peek() == ']' {
		s.i++
		return nil
	}
	for {
		if err := item(); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return nil
		default:
			return errSyntax
		}
	}
}

func (s *scanner) optStr(out **string) error {
	if s.peek() == 'n' {
		return s.literal("null")
	}
	var v string
	if err := s.str(&v); err != nil {
		return err
	}
	*out = &v
	return nil
}

func (s *scanner) str(out *string) error {
	if err := s.expect('"'); err != nil {
		return err
	}
	start := s.i
	for s.i < len(s.b) && s.b[s.i] != '"' && s.b[s.i] != '\\' {
		s.i++
	}
	if s.i < len(s.b) && s.b[s.i] == '"' {
		*out = string(s.b[start:s.i])
		s.i++
		return nil
	}
	buf := append([]byte(nil), s.b[start:s.i]...)
	for s.i < len(s.b) {
		c := s.b[s.i]
		s.i++
		switch {
		case c == '"':
			*out = string(buf)
			return nil
		case c != '\\':
			buf = append(buf, c)
		case s.i >= len(s.b):
			return errSyntax
		default:
			e := s.b[s.i]
			s.i++
			switch e {
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'u':
				r, err := s.hex4()
				if err != nil {
					return err
				}
				if utf16.IsSurrogate(r) && s.i+1 < len(s.b) && s.b[s.i] == '\\' && s.b[s.i+1] == 'u' {
					s.i += 2
					low, err := s.hex4()
					if err != nil {
						return err
					}
					r = utf16.DecodeRune(r, low)
				}
				buf = utf8.AppendRune(buf, r)
			default:
				buf = append(buf, e)
			}
		}
	}
	return errSyntax
}

func (s *scanner) hex4() (rune, error) {
	if s.i+4 > len(s.b) {
		return 0, errSyntax
	}
	n, err := strconv.ParseUint(string(s.b[s.i:s.i+4]), 16, 32)
	s.i += 4
	return rune(n), err
}

func (s *scanner) number() (float64, error) {
	s.ws()
	start := s.i
	for s.i < len(s.b) && (s.b[s.i] == '-' || s.b[s.i] == '+' || s.b[s.i] == '.' || s.b[s.i] == 'e' || s.b[s.i] == 'E' || (s.b[s.i] >= '0' && s.b[s.i] <= '9')) {
		s.i++
	}
	return strconv.ParseFloat(string(s.b[start:s.i]), 64)
}

func (s *scanner) literal(word string) error {
	s.ws()
	if s.i+len(word) > len(s.b) || string(s.b[s.i:s.i+len(word)]) != word {
		return errSyntax
	}
	s.i += len(word)
	return nil
}

// skip passes over one value of any kind.
func (s *scanner) skip() error {
	switch s.peek() {
	case '{':
		return s.object(func(string) error { return s.skip() })
	case '[':
		return s.array(s.skip)
	case '"':
		var ignored string
		return s.str(&ignored)
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	}
	_, err := s.number()
	return err
}

// encodeResult is the RESULT header: {"status":..,"headers":[[..,..]..]} or {"error":..}.
func encodeResult(status int, headers [][2]string, failure *string) []byte {
	if failure != nil {
		return append(appendString([]byte(`{"error":`), *failure), '}')
	}
	b := strconv.AppendInt([]byte(`{"status":`), int64(status), 10)
	b = append(b, `,"headers":[`...)
	for i, kv := range headers {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		b = appendString(b, kv[0])
		b = append(b, ',')
		b = appendString(b, kv[1])
		b = append(b, ']')
	}
	return append(b, "]}"...)
}

// appendString appends s as a JSON string; bytes that are not UTF-8 become U+FFFD.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		b = utf8.AppendRune(b, r)
		i += size
	}
	return append(b, '"')
}
