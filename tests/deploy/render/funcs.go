// The template functions: sprig's text functions plus the ones Helm adds
// (helm.sh/helm/v3/pkg/engine/funcs.go), reimplemented from their documented
// behaviour.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig"
	"sigs.k8s.io/yaml"
)

// maxIncludeDepth is Helm's recursion limit for include.
const maxIncludeDepth = 1000

// funcMap returns the functions of a render; include and tpl need the
// template set they run in, so they are bound by the engine.
func funcMap() template.FuncMap {
	f := sprig.TxtFuncMap()
	// Helm removes these: a chart must not read the renderer's environment.
	delete(f, "env")
	delete(f, "expandenv")
	extra := template.FuncMap{
		"toYaml":        toYAML,
		"fromYaml":      fromYAML,
		"fromYamlArray": fromYAMLArray,
		"toJson":        toJSON,
		"fromJson":      fromJSON,
		"fromJsonArray": fromJSONArray,
		"required":      required,
		"fail":          fail,
		// Bound per render (see engine.bind); placeholders keep Parse happy.
		"include": func(string, interface{}) (string, error) { return "", nil },
		"tpl":     func(string, interface{}) (string, error) { return "", nil },
		// `helm template` has no cluster: lookup finds nothing.
		"lookup": func(string, string, string, string) (map[string]interface{}, error) {
			return map[string]interface{}{}, nil
		},
	}
	for k, v := range extra {
		f[k] = v
	}
	return f
}

// toYAML is Helm's toYaml: sigs.k8s.io/yaml, no trailing newline, "" on error.
func toYAML(v interface{}) string {
	data, err := yaml.Marshal(v)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(data), "\n")
}

func fromYAML(s string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

func fromYAMLArray(s string) []interface{} {
	var a []interface{}
	if err := yaml.Unmarshal([]byte(s), &a); err != nil {
		a = []interface{}{err.Error()}
	}
	return a
}

func toJSON(v interface{}) string {
	data, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(data)
}

func fromJSON(s string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

func fromJSONArray(s string) []interface{} {
	var a []interface{}
	if err := json.Unmarshal([]byte(s), &a); err != nil {
		a = []interface{}{err.Error()}
	}
	return a
}

// required fails the render when v is missing or an empty string.
func required(msg string, v interface{}) (interface{}, error) {
	if v == nil {
		return v, fmt.Errorf("%s", msg)
	}
	if s, ok := v.(string); ok && s == "" {
		return v, fmt.Errorf("%s", msg)
	}
	return v, nil
}

func fail(msg string) (string, error) {
	return "", fmt.Errorf("%s", msg)
}

// bind gives include and tpl the template set t and a depth counter, as
// Helm's engine does for each render.
func bind(t *template.Template, f template.FuncMap) {
	depth := map[string]int{}
	f["include"] = func(name string, data interface{}) (string, error) {
		if depth[name] > maxIncludeDepth {
			return "", fmt.Errorf("rendering template has a nested reference name: %s", name)
		}
		depth[name]++
		defer func() { depth[name]-- }()
		var buf bytes.Buffer
		if err := t.ExecuteTemplate(&buf, name, data); err != nil {
			return "", err
		}
		return buf.String(), nil
	}
	f["tpl"] = func(text string, data interface{}) (string, error) {
		c, err := t.Clone()
		if err != nil {
			return "", err
		}
		c = c.New("tpl").Option("missingkey=zero")
		if _, err := c.Parse(text); err != nil {
			return "", fmt.Errorf("cannot parse tpl template: %v", err)
		}
		var buf bytes.Buffer
		if err := c.Execute(&buf, data); err != nil {
			return "", fmt.Errorf("cannot execute tpl template: %v", err)
		}
		return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
	}
	t.Funcs(f)
}
