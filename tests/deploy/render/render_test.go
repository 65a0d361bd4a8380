package main

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"text/template"
)

func TestParseSet(t *testing.T) {
	cases := []struct {
		arg      string
		asString bool
		want     Values
		err      bool
	}{
		{arg: "a=b", want: Values{"a": "b"}},
		{arg: "a.b=1,c=true", want: Values{"a": map[string]interface{}{"b": int64(1)}, "c": true}},
		{arg: "a=007", want: Values{"a": "007"}},
		{arg: "a=0", want: Values{"a": int64(0)}},
		{arg: "a=null", want: Values{"a": nil}},
		{arg: "a=1", asString: true, want: Values{"a": "1"}},
		{arg: "a={x,y}", want: Values{"a": []interface{}{"x", "y"}}},
		{arg: "a={}", want: Values{"a": []interface{}{}}},
		{arg: "a[1].n=v", want: Values{"a": []interface{}{nil, map[string]interface{}{"n": "v"}}}},
		{arg: `a\.b=c\,d`, want: Values{"a.b": "c,d"}},
		{arg: "sel=x=y", want: Values{"sel": "x=y"}},
		{arg: "a=", want: Values{"a": ""}},
		{arg: "a", err: true},
		{arg: "=b", err: true},
		{arg: "a[x]=1", err: true},
		{arg: "[0]=1", err: true},
		{arg: "a,b=1", err: true},
	}
	for _, c := range cases {
		got := Values{}
		err := parseSet(got, c.arg, c.asString)
		if (err != nil) != c.err {
			t.Errorf("parseSet(%q): error %v, want error %v", c.arg, err, c.err)
			continue
		}
		if !c.err && !reflect.DeepEqual(got, c.want) {
			t.Errorf("parseSet(%q) = %#v, want %#v", c.arg, got, c.want)
		}
	}
}

func TestCoalesce(t *testing.T) {
	defaults := Values{
		"a": map[string]interface{}{"x": 1.0, "y": 2.0},
		"b": []interface{}{"d"},
		"c": "keep",
		"d": "drop",
	}
	user := Values{
		"a": map[string]interface{}{"y": int64(3), "z": nil},
		"b": []interface{}{"u"},
		"d": nil,
	}
	got := coalesce(defaults, user)
	want := Values{
		"a": map[string]interface{}{"x": 1.0, "y": int64(3)},
		"b": []interface{}{"u"},
		"c": "keep",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("coalesce = %#v, want %#v", got, want)
	}
	if _, ok := defaults["a"].(map[string]interface{})["z"]; ok || defaults["d"] != "drop" {
		t.Errorf("coalesce changed its input: %#v", defaults)
	}
	// A null in an earlier -f layer survives a later layer that does not mention it.
	m := mergeUser(Values{"d": nil}, Values{"c": "x"})
	if v, ok := m["d"]; !ok || v != nil {
		t.Errorf("mergeUser lost a null: %#v", m)
	}
}

func TestFuncs(t *testing.T) {
	cases := []struct {
		tmpl string
		data interface{}
		want string
		err  string
	}{
		{tmpl: `{{ toYaml .v }}`, data: map[string]interface{}{"v": map[string]interface{}{"b": 1, "a": []int{1}}},
			want: "a:\n- 1\nb: 1"},
		{tmpl: `{{ (fromYaml "a: 1").a }}`, want: "1"},
		{tmpl: `{{ toJson (list 1 "x") }}`, want: `[1,"x"]`},
		{tmpl: `{{ (fromJson "{\"a\":true}").a }}`, want: "true"},
		{tmpl: `{{ include "t" "x" | nindent 2 }}`, want: "\n  <x>"},
		{tmpl: `{{ tpl "{{ .a }}-{{ .b }}" . }}`, data: map[string]interface{}{"a": "A"}, want: "A-"},
		{tmpl: `{{ required "need v" .v }}`, data: map[string]interface{}{}, err: "need v"},
		{tmpl: `{{ required "need v" .v }}`, data: map[string]interface{}{"v": ""}, err: "need v"},
		{tmpl: `{{ fail "boom" }}`, err: "boom"},
		{tmpl: `{{ len (lookup "v1" "Pod" "ns" "p") }}`, want: "0"},
		{tmpl: `{{ include "loop" . }}`, err: "nested reference"},
	}
	for _, c := range cases {
		f := funcMap()
		root := template.New("root").Funcs(f).Option("missingkey=zero")
		template.Must(root.New("t").Parse(`<{{ . }}>`))
		template.Must(root.New("loop").Parse(`{{ include "loop" . }}`))
		template.Must(root.New("main").Parse(c.tmpl))
		bind(root, f)
		var buf bytes.Buffer
		err := root.ExecuteTemplate(&buf, "main", c.data)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want %q", c.tmpl, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.tmpl, err)
			continue
		}
		if got := buf.String(); got != c.want {
			t.Errorf("%s = %q, want %q", c.tmpl, got, c.want)
		}
	}
	if _, ok := funcMap()["env"]; ok {
		t.Error("env must not be available to templates")
	}
}

func TestDocSplit(t *testing.T) {
	in := "\n---\na: 1\n---\n# only a comment\n---   \nkind: X\n"
	var docs []string
	for _, d := range docSep.Split(in, -1) {
		d = strings.TrimSpace(d)
		if d != "" && !isOnlyComments(d) {
			docs = append(docs, d)
		}
	}
	if !reflect.DeepEqual(docs, []string{"a: 1", "kind: X"}) {
		t.Errorf("split = %q", docs)
	}
	if kindRank("Namespace") >= kindRank("ClusterRole") || kindRank("DaemonSet") >= kindRank("Unknown") {
		t.Error("install order")
	}
}
