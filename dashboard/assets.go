package dashboard

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"sync"
	"time"
)

// static holds the page's scripts, styles and the vendored uPlot with its
// license, served under /assets/. (The vendor README is not served.)
//
//go:embed assets/*.js assets/*.css assets/vendor/uplot/*.js assets/vendor/uplot/*.css assets/vendor/uplot/LICENSE
var static embed.FS

// indexTemplate is the page, rendered once per Dashboard with its title.
//
//go:embed index.html
var indexTemplate string

// contentSecurityPolicy lets the page load nothing from another origin:
// with it a browser enforces what the embedded assets promise.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// file is one embedded asset.
type file struct {
	data []byte
	etag string // quoted strong validator
	hash string // of the content, in URLs: ?v=hash
}

// assets serves the page and the embedded files.
type assets struct {
	files map[string]file // by path under assets/, "app.js", "vendor/uplot/uPlot.min.css"
	index file
}

// loadStatic reads the embedded files once per process.
var loadStatic = sync.OnceValues(func() (map[string]file, error) {
	files := make(map[string]file)
	err := fs.WalkDir(static, "assets", func(path string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		data, err := static.ReadFile(path)
		if err != nil {
			return err
		}
		files[strings.TrimPrefix(path, "assets/")] = newFile(data)
		return nil
	})
	return files, err
})

func newFile(data []byte) file {
	sum := sha256.Sum256(data)
	h := hex.EncodeToString(sum[:8])
	return file{data: data, etag: `"` + h + `"`, hash: h}
}

// loadAssets renders the page for title.
func loadAssets(title string) (*assets, error) {
	files, err := loadStatic()
	if err != nil {
		return nil, fmt.Errorf("dashboard: embedded assets: %w", err)
	}
	a := &assets{files: files}
	tmpl, err := template.New("index").Funcs(template.FuncMap{
		// asset is a file's URL, relative so that the page also works
		// mounted below a prefix, with its content hash for caching.
		"asset": func(name string) (string, error) {
			f, ok := files[name]
			if !ok {
				return "", fmt.Errorf("no embedded asset %q", name)
			}
			return "assets/" + name + "?v=" + f.hash, nil
		},
	}).Parse(indexTemplate)
	if err != nil {
		return nil, fmt.Errorf("dashboard: index.html: %w", err)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, struct{ Title string }{title}); err != nil {
		return nil, fmt.Errorf("dashboard: index.html: %w", err)
	}
	a.index = newFile(buf.Bytes())
	return a, nil
}

// serveIndex is GET /.
func (a *assets) serveIndex(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", a.index.etag)
	http.ServeContent(w, r, "index.html", time.Time{}, bytes.NewReader(a.index.data))
}

// serveAsset is GET /assets/{path}. A URL carrying the content's hash
// (?v=…, as the page links them) may be cached for a year; others are
// revalidated with their ETag.
func (a *assets) serveAsset(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/assets/")
	f, ok := a.files[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	if r.URL.Query().Get("v") == f.hash {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	h.Set("ETag", f.etag)
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(f.data))
}
