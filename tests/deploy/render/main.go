// render: `helm template` for this repository's chart, without Helm.
//
// Helm cannot be installed on the build machines, so this program reproduces
// the parts of its template engine that charts/seccomp-syncd uses: Chart.yaml,
// values.yaml with -f/--set/--set-string overrides (Helm's coalescing), the
// values.schema.json check (xeipuuv/gojsonschema, the validator Helm 3 used),
// text/template with sprig and Helm's own functions, the .Release, .Chart,
// .Values, .Capabilities and .Template objects, and output like `helm
// template`: documents sorted in Helm's install order on stdout, or one file
// per template with --output-dir.  NOTES.txt is rendered only with --notes.
//
// Built offline with the Debian Go packages: see mk/deploy.mk.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/semver"
	"github.com/xeipuuv/gojsonschema"
	"sigs.k8s.io/yaml"
)

// generatedHeader is the first line of every file --output-dir writes; --clean
// removes only files that begin with it.
const generatedHeader = "# Generated from charts/seccomp-syncd by tests/deploy/render (make render): edit the chart, not this file."

// Chart is .Chart: the fields of Chart.yaml under Helm's Go names.
type Chart struct {
	APIVersion   string            `json:"apiVersion"`
	Name         string            `json:"name"`
	Version      string            `json:"version"`
	AppVersion   string            `json:"appVersion"`
	KubeVersion  string            `json:"kubeVersion"`
	Description  string            `json:"description"`
	Type         string            `json:"type"`
	Keywords     []string          `json:"keywords"`
	Home         string            `json:"home"`
	Sources      []string          `json:"sources"`
	Icon         string            `json:"icon"`
	Deprecated   bool              `json:"deprecated"`
	Annotations  map[string]string `json:"annotations"`
	Maintainers  []interface{}     `json:"maintainers"`
	Dependencies []interface{}     `json:"dependencies"`
}

// Release is .Release as `helm template` (an install) fills it in.
type Release struct {
	Name      string
	Namespace string
	Service   string
	Revision  int
	IsInstall bool
	IsUpgrade bool
}

// KubeVersion is .Capabilities.KubeVersion.
type KubeVersion struct {
	Version    string
	Major      string
	Minor      string
	GitVersion string
}

func (k KubeVersion) String() string { return k.Version }

// VersionSet is .Capabilities.APIVersions.
type VersionSet []string

// Has reports whether an API version ("apps/v1") or a kind in one
// ("apps/v1/DaemonSet") is available.
func (v VersionSet) Has(apiVersion string) bool {
	for _, x := range v {
		if x == apiVersion {
			return true
		}
	}
	return false
}

// Capabilities is .Capabilities.
type Capabilities struct {
	KubeVersion KubeVersion
	APIVersions VersionSet
	HelmVersion map[string]string
}

// TemplateInfo is .Template.
type TemplateInfo struct {
	Name     string
	BasePath string
}

// defaultAPIVersions are the built-in API versions of a v1.32 cluster that a
// chart may ask about; --api-versions adds more (e.g. monitoring.coreos.com/v1).
var defaultAPIVersions = []string{
	"v1", "apps/v1", "batch/v1", "policy/v1", "rbac.authorization.k8s.io/v1",
	"networking.k8s.io/v1", "storage.k8s.io/v1", "apiextensions.k8s.io/v1",
	"admissionregistration.k8s.io/v1", "coordination.k8s.io/v1", "events.k8s.io/v1",
	"scheduling.k8s.io/v1", "autoscaling/v2", "discovery.k8s.io/v1",
}

// installOrder is Helm's releaseutil.InstallOrder: the order `helm template`
// prints kinds in and `helm install` creates them in.
var installOrder = []string{
	"PriorityClass", "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange",
	"PodSecurityPolicy", "PodDisruptionBudget", "ServiceAccount", "Secret", "SecretList",
	"ConfigMap", "StorageClass", "PersistentVolume", "PersistentVolumeClaim",
	"CustomResourceDefinition", "ClusterRole", "ClusterRoleList", "ClusterRoleBinding",
	"ClusterRoleBindingList", "Role", "RoleList", "RoleBinding", "RoleBindingList", "Service",
	"DaemonSet", "Pod", "ReplicationController", "ReplicaSet", "Deployment",
	"HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob", "IngressClass", "Ingress",
	"APIService",
}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

type options struct {
	chartDir    string
	release     string
	namespace   string
	valueFiles  listFlag
	sets        listFlag
	setStrings  listFlag
	showOnly    listFlag
	apiVersions listFlag
	kubeVersion string
	outputDir   string
	kustomize   bool
	clean       bool
	notes       bool
	showValues  bool
}

// manifest is one rendered document.
type manifest struct {
	source string // "<chart>/templates/<file>"
	kind   string
	body   string
}

func main() {
	o, err := parseArgs(os.Args[1:])
	if err == nil {
		err = run(o)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "Error: %v\n", err)
		os.Exit(1)
	}
}

func usage() string {
	return `usage: render [flags] CHART_DIR
  --release NAME           release name (default seccomp-syncd)
  -n, --namespace NS       release namespace (default seccomp-syncd)
  -f, --values FILE        values file, repeatable, later wins
  --set K=V[,K=V]          Helm --set syntax, repeatable (after -f)
  --set-string K=V         like --set, values stay strings
  -s, --show-only PATH     render only this template (templates/x.yaml), repeatable
  --kube-version V         .Capabilities.KubeVersion (default v1.32.0)
  -a, --api-versions V     extra .Capabilities.APIVersions, repeatable
  --output-dir DIR         one file per template in DIR instead of stdout
  --kustomization          with --output-dir: also write DIR/kustomization.yaml
  --clean                  with --output-dir: first remove the files a previous run generated
  --notes                  print the rendered NOTES.txt instead of the manifests
  --show-values            print the final values (JSON) instead of the manifests
`
}

func parseArgs(args []string) (*options, error) {
	o := &options{release: "seccomp-syncd", namespace: "seccomp-syncd", kubeVersion: "v1.32.0"}
	str := map[string]*string{
		"--release": &o.release, "--namespace": &o.namespace, "-n": &o.namespace,
		"--kube-version": &o.kubeVersion, "--output-dir": &o.outputDir,
	}
	lists := map[string]*listFlag{
		"-f": &o.valueFiles, "--values": &o.valueFiles, "--set": &o.sets,
		"--set-string": &o.setStrings, "-s": &o.showOnly, "--show-only": &o.showOnly,
		"-a": &o.apiVersions, "--api-versions": &o.apiVersions,
	}
	bools := map[string]*bool{
		"--kustomization": &o.kustomize, "--clean": &o.clean, "--notes": &o.notes,
		"--show-values": &o.showValues,
	}
	var pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, val, hasVal := strings.Cut(a, "=")
		if !strings.HasPrefix(a, "-") {
			pos = append(pos, a)
			continue
		}
		if a == "-h" || a == "--help" {
			fmt.Print(usage())
			os.Exit(0)
		}
		if b, ok := bools[a]; ok {
			*b = true
			continue
		}
		s, isStr := str[name]
		l, isList := lists[name]
		if !isStr && !isList {
			return nil, fmt.Errorf("unknown flag %q\n%s", a, usage())
		}
		if !hasVal {
			if i+1 >= len(args) {
				return nil, fmt.Errorf("flag %q needs a value", a)
			}
			i++
			val = args[i]
		}
		if isStr {
			*s = val
		} else {
			_ = l.Set(val)
		}
	}
	if len(pos) != 1 {
		return nil, fmt.Errorf("one chart directory expected\n%s", usage())
	}
	o.chartDir = pos[0]
	if (o.kustomize || o.clean) && o.outputDir == "" {
		return nil, errors.New("--kustomization and --clean need --output-dir")
	}
	return o, nil
}

func loadChart(dir string) (*Chart, error) {
	data, err := os.ReadFile(filepath.Join(dir, "Chart.yaml"))
	if err != nil {
		return nil, err
	}
	c := &Chart{}
	if err := yaml.UnmarshalStrict(data, c); err != nil {
		return nil, fmt.Errorf("cannot load Chart.yaml: %v", err)
	}
	if c.APIVersion != "v2" {
		return nil, fmt.Errorf("Chart.yaml: apiVersion %q, expected v2", c.APIVersion)
	}
	if c.Name == "" || c.Version == "" {
		return nil, errors.New("Chart.yaml: name and version are required")
	}
	if _, err := semver.StrictNewVersion(c.Version); err != nil {
		return nil, fmt.Errorf("Chart.yaml: version %q is not SemVer 2", c.Version)
	}
	return c, nil
}

// finalValues is Helm's order: chart defaults < -f files in order < --set <
// --set-string, nulls deleting defaults; then the schema check.
func finalValues(o *options) (Values, error) {
	defaults, err := readValuesFile(filepath.Join(o.chartDir, "values.yaml"))
	if err != nil {
		return nil, err
	}
	user := Values{}
	for _, f := range o.valueFiles {
		v, err := readValuesFile(f)
		if err != nil {
			return nil, err
		}
		user = mergeUser(user, v)
	}
	for _, s := range o.sets {
		if err := parseSet(user, s, false); err != nil {
			return nil, err
		}
	}
	for _, s := range o.setStrings {
		if err := parseSet(user, s, true); err != nil {
			return nil, err
		}
	}
	return coalesce(defaults, user), nil
}

// validate is Helm's ValidateAgainstSchema: the values as JSON against
// values.schema.json, every failure listed.
func validate(chartName, chartDir string, vals Values) error {
	schema, err := os.ReadFile(filepath.Join(chartDir, "values.schema.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	doc, err := json.Marshal(vals)
	if err != nil {
		return err
	}
	res, err := gojsonschema.Validate(gojsonschema.NewBytesLoader(schema),
		gojsonschema.NewBytesLoader(doc))
	if err != nil {
		return fmt.Errorf("%s: values.schema.json: %v", chartName, err)
	}
	if res.Valid() {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "values don't meet the specifications of the schema(s) in the following chart(s):\n%s:\n", chartName)
	for _, e := range res.Errors() {
		fmt.Fprintf(&b, "- %s\n", e)
	}
	return errors.New(strings.TrimSuffix(b.String(), "\n"))
}

func checkKubeVersion(c *Chart, kv string) (KubeVersion, error) {
	v, err := semver.NewVersion(kv)
	if err != nil {
		return KubeVersion{}, fmt.Errorf("bad --kube-version %q: %v", kv, err)
	}
	k := KubeVersion{
		Version:    "v" + v.String(),
		Major:      fmt.Sprint(v.Major()),
		Minor:      fmt.Sprint(v.Minor()),
		GitVersion: "v" + v.String(),
	}
	if c.KubeVersion != "" {
		con, err := semver.NewConstraint(c.KubeVersion)
		if err != nil {
			return k, fmt.Errorf("Chart.yaml: bad kubeVersion %q: %v", c.KubeVersion, err)
		}
		if !con.Check(v) {
			return k, fmt.Errorf("chart requires kubeVersion: %s which is incompatible with Kubernetes %s",
				c.KubeVersion, k.Version)
		}
	}
	return k, nil
}

// loadTemplates parses every file under templates/ into one set, named
// "<chart>/templates/<relative path>" as Helm names them.
func loadTemplates(c *Chart, dir string) (*template.Template, []string, template.FuncMap, error) {
	funcs := funcMap()
	root := template.New(c.Name).Funcs(funcs).Option("missingkey=zero")
	var names []string
	tdir := filepath.Join(dir, "templates")
	err := filepath.WalkDir(tdir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		name := path.Join(c.Name, filepath.ToSlash(rel))
		if _, err := root.New(name).Parse(string(data)); err != nil {
			return err
		}
		names = append(names, name)
		return nil
	})
	if err != nil {
		return nil, nil, nil, err
	}
	sort.Strings(names)
	bind(root, funcs)
	return root, names, funcs, nil
}

var docSep = regexp.MustCompile(`(?:^|\s*\n)---\s*`)
var kindRe = regexp.MustCompile(`(?m)^kind:\s*["']?([A-Za-z0-9]+)`)

func kindRank(kind string) int {
	for i, k := range installOrder {
		if k == kind {
			return i
		}
	}
	return len(installOrder)
}

func isPartial(name string) bool {
	return strings.HasPrefix(path.Base(name), "_")
}

func isNotes(name string) bool {
	return path.Base(name) == "NOTES.txt"
}

func run(o *options) error {
	c, err := loadChart(o.chartDir)
	if err != nil {
		return err
	}
	vals, err := finalValues(o)
	if err != nil {
		return err
	}
	if err := validate(c.Name, o.chartDir, vals); err != nil {
		return err
	}
	if o.showValues {
		out, err := json.MarshalIndent(vals, "", "  ")
		if err != nil {
			return err
		}
		fmt.Println(string(out))
		return nil
	}
	kv, err := checkKubeVersion(c, o.kubeVersion)
	if err != nil {
		return err
	}
	tmpl, names, _, err := loadTemplates(c, o.chartDir)
	if err != nil {
		return err
	}
	caps := Capabilities{
		KubeVersion: kv,
		APIVersions: append(VersionSet(append([]string{}, defaultAPIVersions...)), o.apiVersions...),
		HelmVersion: map[string]string{"version": "v3.16.0"},
	}
	release := Release{Name: o.release, Namespace: o.namespace, Service: "Helm", Revision: 1,
		IsInstall: true}
	wanted := map[string]bool{}
	for _, s := range o.showOnly {
		wanted[path.Join(c.Name, s)] = true
	}

	var manifests []manifest
	seen := map[string]bool{}
	for _, name := range names {
		if isPartial(name) || (isNotes(name) != o.notes) {
			continue
		}
		if len(wanted) > 0 && !o.notes && !wanted[name] {
			continue
		}
		seen[name] = true
		data := map[string]interface{}{
			"Values":       vals,
			"Release":      release,
			"Chart":        c,
			"Capabilities": caps,
			"Template":     TemplateInfo{Name: name, BasePath: path.Join(c.Name, "templates")},
			"Files":        map[string]interface{}{},
		}
		var buf bytes.Buffer
		if err := tmpl.ExecuteTemplate(&buf, name, data); err != nil {
			return err
		}
		out := strings.ReplaceAll(buf.String(), "<no value>", "")
		if o.notes {
			fmt.Print(out)
			return nil
		}
		for _, doc := range docSep.Split(out, -1) {
			doc = strings.TrimSpace(doc)
			if doc == "" || isOnlyComments(doc) {
				continue
			}
			k := ""
			if m := kindRe.FindStringSubmatch(doc); m != nil {
				k = m[1]
			}
			if k == "" {
				return fmt.Errorf("%s: a rendered document has no kind", name)
			}
			var obj map[string]interface{}
			if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
				return fmt.Errorf("%s: rendered YAML does not parse: %v\n%s", name, err, doc)
			}
			manifests = append(manifests, manifest{source: name, kind: k, body: doc})
		}
	}
	for n := range wanted {
		if !seen[n] {
			return fmt.Errorf("could not find template %s in chart", strings.TrimPrefix(n, c.Name+"/"))
		}
	}
	if o.notes {
		return errors.New("the chart has no templates/NOTES.txt")
	}
	sort.SliceStable(manifests, func(i, j int) bool {
		return kindRank(manifests[i].kind) < kindRank(manifests[j].kind)
	})
	if o.outputDir == "" {
		for _, m := range manifests {
			fmt.Printf("---\n# Source: %s\n%s\n", m.source, m.body)
		}
		return nil
	}
	return writeDir(o, manifests)
}

func isOnlyComments(doc string) bool {
	for _, l := range strings.Split(doc, "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "#") {
			return false
		}
	}
	return true
}

// writeDir writes one file per template (in the order of its first object),
// and with --kustomization a kustomization.yaml that lists them.
func writeDir(o *options, manifests []manifest) error {
	if err := os.MkdirAll(o.outputDir, 0o755); err != nil {
		return err
	}
	if o.clean {
		if err := cleanDir(o.outputDir); err != nil {
			return err
		}
	}
	files := map[string]*strings.Builder{}
	var order []string
	for _, m := range manifests {
		f := path.Base(m.source)
		b, ok := files[f]
		if !ok {
			b = &strings.Builder{}
			b.WriteString(generatedHeader + "\n")
			files[f] = b
			order = append(order, f)
		}
		fmt.Fprintf(b, "---\n# Source: %s\n%s\n", m.source, m.body)
	}
	for _, f := range order {
		if err := writeFile(filepath.Join(o.outputDir, f), files[f].String()); err != nil {
			return err
		}
	}
	if o.kustomize {
		var b strings.Builder
		b.WriteString(generatedHeader + "\n")
		b.WriteString("# Install everything with: kubectl apply -k deploy/\n")
		b.WriteString("---\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n")
		for _, f := range order {
			fmt.Fprintf(&b, "  - %s\n", f)
		}
		if err := writeFile(filepath.Join(o.outputDir, "kustomization.yaml"), b.String()); err != nil {
			return err
		}
	}
	return nil
}

func cleanDir(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".yaml") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.HasPrefix(data, []byte(generatedHeader+"\n")) {
			if err := os.Remove(p); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeFile replaces p atomically, so an interrupted render never leaves half a manifest.
func writeFile(p, content string) error {
	tmp, err := os.CreateTemp(filepath.Dir(p), ".render-*")
	if err != nil {
		return err
	}
	_, err = tmp.WriteString(content)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), p)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
	}
	return err
}
