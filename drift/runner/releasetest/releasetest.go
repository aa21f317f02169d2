// Package releasetest serves one terraform release the way the HashiCorp
// releases site lays it out (index.json files, the zip, SHA256SUMS and its
// detached signature), signed with a key of its own, so that tests install
// terraform without a network.
package releasetest

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Server is a releases mirror holding one version of terraform for this
// machine's platform.
type Server struct {
	*httptest.Server
	// PublicKey is the armored key that signs SHA256SUMS.
	PublicKey string
	Version   string
	// Downloads counts requests for the zip.
	Downloads atomic.Int32
	files     map[string][]byte
}

// New serves the terraform binary at path as release version. tamper, when
// set, changes the zip after it was summed and signed.
func New(t testing.TB, path, version string, tamper bool) *Server {
	t.Helper()
	bin, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var zbuf bytes.Buffer
	zw := zip.NewWriter(&zbuf)
	h := &zip.FileHeader{Name: "terraform", Method: zip.Store} // compressing ~100 MB costs seconds
	h.SetMode(0o755)
	w, err := zw.CreateHeader(h)
	if err == nil {
		_, err = w.Write(bin)
	}
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	key, err := openpgp.NewEntity("releasetest", "", "releasetest@example.invalid", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	var pub bytes.Buffer
	aw, err := armor.Encode(&pub, openpgp.PublicKeyType, nil)
	if err == nil {
		err = key.Serialize(aw)
	}
	if err == nil {
		err = aw.Close()
	}
	if err != nil {
		t.Fatal(err)
	}

	platform := runtime.GOOS + "_" + runtime.GOARCH
	zipName := fmt.Sprintf("terraform_%s_%s.zip", version, platform)
	sumsName := fmt.Sprintf("terraform_%s_SHA256SUMS", version)
	zipData := zbuf.Bytes()
	sum := sha256.Sum256(zipData)
	sums := []byte(hex.EncodeToString(sum[:]) + "  " + zipName + "\n")
	var sig bytes.Buffer
	if err := openpgp.DetachSign(&sig, key, bytes.NewReader(sums), nil); err != nil {
		t.Fatal(err)
	}
	if tamper {
		zipData = append(bytes.Clone(zipData), 0)
	}

	s := &Server{PublicKey: pub.String(), Version: version, files: map[string][]byte{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	dir := "/terraform/" + version + "/"
	pv := map[string]any{
		"name": "terraform", "version": version,
		"shasums": sumsName, "shasums_signature": sumsName + ".sig",
		"builds": []map[string]string{{
			"name": "terraform", "version": version, "os": runtime.GOOS, "arch": runtime.GOARCH,
			"filename": zipName, "url": s.URL + dir + zipName,
		}},
	}
	s.files[dir+"index.json"] = mustJSON(t, pv)
	s.files["/terraform/index.json"] = mustJSON(t, map[string]any{"name": "terraform", "versions": map[string]any{version: pv}})
	s.files[dir+zipName] = zipData
	s.files[dir+sumsName] = sums
	s.files[dir+sumsName+".sig"] = sig.Bytes()
	return s
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	data, ok := s.files[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	switch {
	case strings.HasSuffix(r.URL.Path, ".json"):
		w.Header().Set("Content-Type", "application/json")
	case strings.HasSuffix(r.URL.Path, ".zip"):
		s.Downloads.Add(1)
		w.Header().Set("Content-Type", "application/zip")
	default:
		w.Header().Set("Content-Type", "application/octet-stream")
	}
	// hc-install checks the size against Content-Length, and a failed check
	// surfaces only as a missing binary.
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.Write(data)
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
