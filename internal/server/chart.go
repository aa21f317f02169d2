package server

import (
	"strconv"
	"time"

	"github.com/driftd/driftd/drift"
	"github.com/driftd/driftd/drift/store"
)

// Chart geometry, in SVG user units; the SVG scales to its container.
const (
	chartW      = 720
	chartH      = 220
	chartLeft   = 44
	chartRight  = 12
	chartTop    = 14
	chartBottom = 38
)

// chart is an inline SVG bar chart of drifted resources per scan, oldest
// on the left, computed here so that the template only places shapes.
type chart struct {
	W, H                     int
	Left, Right, Top, Bottom string
	Bars                     []bar
	YTicks                   []tick
	XLabels                  []xLabel
	Summary                  string
}

type bar struct {
	X, Y, W, H string
	// CX is the bar's centre, where an error mark goes.
	CX    string
	Class string // drifted, clean, error
	Title string
}

type tick struct {
	Y     string
	Label string
}

type xLabel struct {
	X      string
	Anchor string
	Label  string
}

// newChart charts scans (newest first, as the store returns them); nil when
// there is nothing to chart.
func newChart(scans []store.Scan) *chart {
	if len(scans) == 0 {
		return nil
	}
	n := len(scans)
	plotW := float64(chartW - chartLeft - chartRight)
	plotH := float64(chartH - chartTop - chartBottom)
	bottom := float64(chartH - chartBottom)

	peak := 0
	for _, sc := range scans {
		peak = max(peak, sc.Drifted)
	}
	step, top := yScale(peak)

	c := &chart{
		W: chartW, H: chartH,
		Left: fmtF(chartLeft), Right: fmtF(chartW - chartRight),
		Top: fmtF(chartTop), Bottom: fmtF(bottom),
		Summary: "Drifted resources over the last " + plural(n, "scan"),
	}
	for v := 0; v <= top; v += step {
		c.YTicks = append(c.YTicks, tick{Y: fmtF(bottom - plotH*float64(v)/float64(top)), Label: strconv.Itoa(v)})
	}
	slot := plotW / float64(n)
	barW := min(slot*0.62, 32)
	for i := range n {
		sc := scans[n-1-i]
		cx := float64(chartLeft) + slot*(float64(i)+0.5)
		b := bar{X: fmtF(cx - barW/2), W: fmtF(barW), CX: fmtF(cx), Class: string(sc.Status)}
		h := plotH * float64(sc.Drifted) / float64(top)
		switch sc.Status {
		case drift.StatusError:
			b.Title = stampUTC(sc.StartedAt) + ": scan failed"
			h = 0
		case drift.StatusDrifted:
			b.Title = stampUTC(sc.StartedAt) + ": " + plural(sc.Drifted, "drifted resource")
		default:
			b.Class = "clean"
			b.Title = stampUTC(sc.StartedAt) + ": no drift"
			h = 2 // a sliver, so that a clean scan is visibly a scan
		}
		b.Y, b.H = fmtF(bottom-h), fmtF(h)
		c.Bars = append(c.Bars, b)
	}
	first, last := scans[n-1].StartedAt, scans[0].StartedAt
	c.XLabels = append(c.XLabels, xLabel{X: fmtF(chartLeft), Anchor: "start", Label: shortStamp(first)})
	if n > 1 {
		c.XLabels = append(c.XLabels, xLabel{X: fmtF(chartW - chartRight), Anchor: "end", Label: shortStamp(last)})
	}
	return c
}

// yScale picks a round tick step (1, 2, 5, 10, 20, …) giving at most four
// steps up to the peak, and the axis top that it implies.
func yScale(peak int) (step, top int) {
	peak = max(peak, 1)
	for mag := 1; ; mag *= 10 {
		for _, f := range []int{1, 2, 5} {
			step = f * mag
			if (peak+step-1)/step <= 4 {
				return step, step * ((peak + step - 1) / step)
			}
		}
	}
}

func fmtF(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }

func stampUTC(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

func shortStamp(t time.Time) string { return t.UTC().Format("Jan 2 15:04") }
