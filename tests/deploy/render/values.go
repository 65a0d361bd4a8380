// Values: loading, Helm's --set syntax and Helm's coalescing rules.
package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"
)

// Values are what the templates see as .Values: YAML decoded the way Helm
// decodes it (through JSON, so every number is a float64).
type Values = map[string]interface{}

// maxValuesFile bounds a values file: this is a developer tool, but an input
// is an input.
const maxValuesFile = 4 << 20

func readValuesFile(path string) (Values, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Size() > maxValuesFile {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxValuesFile)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseValues(data, path)
}

func parseValues(data []byte, name string) (Values, error) {
	v := Values{}
	if err := yaml.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("cannot parse %s: %v", name, err)
	}
	if v == nil {
		v = Values{}
	}
	return v, nil
}

// coalesce merges src (the user's values) over dst (the chart's defaults) the
// way Helm's CoalesceValues does: maps merge key by key, everything else is
// replaced, and a null in src deletes the key.
func coalesce(dst, src Values) Values {
	out := Values{}
	for k, v := range dst {
		out[k] = v
	}
	for k, v := range src {
		if v == nil {
			delete(out, k)
			continue
		}
		sm, sok := v.(map[string]interface{})
		dm, dok := out[k].(map[string]interface{})
		if sok && dok {
			out[k] = coalesce(dm, sm)
		} else {
			out[k] = v
		}
	}
	return out
}

// mergeUser merges two layers of user values (-f files, then --set) where a
// null must survive so that coalesce() can delete the chart's default.
func mergeUser(dst, src Values) Values {
	out := Values{}
	for k, v := range dst {
		out[k] = v
	}
	for k, v := range src {
		sm, sok := v.(map[string]interface{})
		dm, dok := out[k].(map[string]interface{})
		if sok && dok {
			out[k] = mergeUser(dm, sm)
		} else {
			out[k] = v
		}
	}
	return out
}

// setParser reads Helm's --set syntax: "a.b=v,c[0]=w,d={x,y}", with "\" escaping
// the next character.  Values are typed (int64, bool, null) unless asString.
type setParser struct {
	s        []rune
	i        int
	asString bool
}

// parseSet applies one --set (or --set-string) argument to vals.
func parseSet(vals Values, arg string, asString bool) error {
	p := &setParser{s: []rune(arg), asString: asString}
	for p.i < len(p.s) {
		if err := p.assignment(vals); err != nil {
			return fmt.Errorf("--set %q: %v", arg, err)
		}
		if p.i < len(p.s) {
			if p.s[p.i] != ',' {
				return fmt.Errorf("--set %q: expected ',' at %d", arg, p.i)
			}
			p.i++
		}
	}
	return nil
}

type pathElem struct {
	key   string
	index int // -1: a map key
}

func (p *setParser) path() ([]pathElem, error) {
	var path []pathElem
	var cur strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '\\' && p.i+1 < len(p.s):
			cur.WriteRune(p.s[p.i+1])
			p.i += 2
		case c == '.':
			if cur.Len() == 0 && (len(path) == 0 || path[len(path)-1].index < 0) {
				return nil, fmt.Errorf("empty key at %d", p.i)
			}
			if cur.Len() > 0 {
				path = append(path, pathElem{key: cur.String(), index: -1})
				cur.Reset()
			}
			p.i++
		case c == '[':
			if cur.Len() > 0 {
				path = append(path, pathElem{key: cur.String(), index: -1})
				cur.Reset()
			}
			end := p.i + 1
			for end < len(p.s) && p.s[end] != ']' {
				end++
			}
			if end >= len(p.s) {
				return nil, fmt.Errorf("unterminated '['")
			}
			n, err := strconv.Atoi(string(p.s[p.i+1 : end]))
			if err != nil || n < 0 || n > 65536 {
				return nil, fmt.Errorf("bad list index %q", string(p.s[p.i+1:end]))
			}
			path = append(path, pathElem{index: n})
			p.i = end + 1
		case c == '=':
			if cur.Len() > 0 {
				path = append(path, pathElem{key: cur.String(), index: -1})
			}
			p.i++
			if len(path) == 0 {
				return nil, fmt.Errorf("empty key")
			}
			return path, nil
		case c == ',':
			return nil, fmt.Errorf("key %q has no value", cur.String())
		default:
			cur.WriteRune(c)
			p.i++
		}
	}
	return nil, fmt.Errorf("key %q has no '='", cur.String())
}

// value reads up to the next unescaped ',' (or a whole {a,b} list).
func (p *setParser) value() interface{} {
	if p.i < len(p.s) && p.s[p.i] == '{' {
		save := p.i
		p.i++
		var list []interface{}
		for p.i < len(p.s) && p.s[p.i] != '}' {
			list = append(list, p.scalar("},"))
			if p.i < len(p.s) && p.s[p.i] == ',' {
				p.i++
			}
		}
		if p.i < len(p.s) {
			p.i++
			if list == nil {
				list = []interface{}{}
			}
			return list
		}
		p.i = save
	}
	return p.scalar(",")
}

func (p *setParser) scalar(stop string) interface{} {
	var b strings.Builder
	for p.i < len(p.s) && !strings.ContainsRune(stop, p.s[p.i]) {
		if p.s[p.i] == '\\' && p.i+1 < len(p.s) {
			p.i++
		}
		b.WriteRune(p.s[p.i])
		p.i++
	}
	return typed(b.String(), p.asString)
}

// typed follows Helm's strvals.typedVal: true/false/null, and integers
// without a leading zero become int64; everything else stays a string.
func typed(s string, asString bool) interface{} {
	if asString {
		return s
	}
	switch strings.ToLower(s) {
	case "true":
		return true
	case "false":
		return false
	case "null":
		return nil
	}
	if s == "0" {
		return int64(0)
	}
	if len(s) > 0 && s[0] != '0' {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n
		}
	}
	return s
}

func (p *setParser) assignment(vals Values) error {
	path, err := p.path()
	if err != nil {
		return err
	}
	if path[0].index >= 0 {
		return fmt.Errorf("a value path cannot start with a list index")
	}
	v := p.value()
	set(vals, path, v)
	return nil
}

// set stores v at path, creating maps and growing lists on the way.
func set(vals Values, path []pathElem, v interface{}) {
	var container interface{} = vals
	var put func(interface{})
	for n, e := range path {
		last := n == len(path)-1
		if e.index < 0 {
			m, ok := container.(map[string]interface{})
			if !ok {
				m = map[string]interface{}{}
				put(m)
			}
			if last {
				m[e.key] = v
				return
			}
			key := e.key
			put = func(x interface{}) { m[key] = x }
			container = m[key]
		} else {
			l, _ := container.([]interface{})
			for len(l) <= e.index {
				l = append(l, nil)
			}
			put(l)
			if last {
				l[e.index] = v
				return
			}
			idx := e.index
			put = func(x interface{}) { l[idx] = x }
			container = l[idx]
		}
	}
}
