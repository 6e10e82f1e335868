package incident

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
)

// WriteJSON writes the report as one indented JSON object.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

var piiLabels = map[string]string{
	"name":         "氏名 name",
	"birth_date":   "生年月日 birth date",
	"address":      "住所 address",
	"phone":        "電話番号 phone",
	"bank_account": "口座 bank account",
}

var viaLabels = map[string]string{
	"copy":       "複製 copy",
	"archive":    "圧縮・アーカイブ archive",
	"pipe":       "パイプ pipe",
	"write":      "書込み write",
	"rename":     "名前変更 rename",
	"link":       "リンク link",
	"tls-upload": "TLS送信 HTTPS upload",
	"send":       "送信 send",
	"connect":    "接続 connect",
	"move":       "移動 move",
}

func piiLabel(k string) string {
	if l, ok := piiLabels[k]; ok {
		return l
	}
	return k
}

func viaLabel(k string) string {
	if l, ok := viaLabels[k]; ok {
		return l
	}
	return k
}

// countText: "312" when exact, "at least 12, at most 312", "at least 12 (most not known)".
func countText(c Count) string {
	switch {
	case c.Exact:
		return strconv.Itoa(c.Lower)
	case c.Upper != nil:
		return fmt.Sprintf("%d〜%d (%d以上 at least %d, %d以下 at most %d)", c.Lower, *c.Upper, c.Lower, c.Lower, *c.Upper, *c.Upper)
	}
	return fmt.Sprintf("%d以上 at least %d (上限不明 upper bound not known)", c.Lower, c.Lower)
}

// cardText is a count in a few characters: "94", "94–300", "≥94".
func cardText(c Count) string {
	switch {
	case c.Exact:
		return strconv.Itoa(c.Lower)
	case c.Upper != nil:
		return fmt.Sprintf("%d–%d", c.Lower, *c.Upper)
	}
	return "≥" + strconv.Itoa(c.Lower)
}

func boundText(c Count) string {
	switch {
	case c.Exact:
		return "確定 exact"
	case c.Upper != nil:
		return "下限〜上限 lower to upper bound"
	}
	return "下限、上限不明 lower bound; upper not known"
}

// DestText is a flow's destination in one line.
func DestText(d Destination) string {
	if d.Path != "" {
		s := d.Path
		var tags []string
		if d.FSType != "" {
			tags = append(tags, d.FSType)
		}
		if d.Removable {
			tags = append(tags, "リムーバブル removable")
		}
		if d.NetworkFS {
			tags = append(tags, "ネットワーク network share")
		}
		if len(tags) > 0 {
			s += " [" + strings.Join(tags, ", ") + "]"
		}
		return s
	}
	if d.IP == "" {
		return "(宛先不明 destination not known)"
	}
	host := d.IP
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	s := host + ":" + strconv.Itoa(d.Port)
	if d.Domain != "" {
		s = d.Domain + " " + s
	}
	var tags []string
	if d.Transport != "" {
		tags = append(tags, d.Transport)
	}
	if d.TLS {
		tags = append(tags, "TLS")
	}
	if d.Class != "" {
		tags = append(tags, d.Class)
	}
	if len(tags) > 0 {
		s += " [" + strings.Join(tags, ", ") + "]"
	}
	return s
}

func ancestryText(p Process) string {
	parts := []string{fmt.Sprintf("%s[%d]", p.Name, p.PID)}
	for _, a := range p.Ancestry {
		parts = append(parts, fmt.Sprintf("%s[%d]", a.Name, a.PID))
	}
	return strings.Join(parts, " ← ")
}

// mdEscape keeps document strings from breaking a Markdown table or
// injecting markup.
func mdEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '|' || r == '\\' || r == '`' || r == '*' || r == '_' || r == '<' || r == '>' || r == '[' || r == ']':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\x%02x", r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func tf(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return ""
	}
	return t.In(loc).Format("2006-01-02 15:04:05 MST")
}

// WriteMarkdown writes the report as Markdown, times in loc.
func (r *Report) WriteMarkdown(w io.Writer, loc *time.Location) error {
	var b bytes.Buffer
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("# 個人データ漏えい等事案 調査報告 / Incident report\n\n")
	p("Generated %s by bansho from %s.\n\n", tf(r.Generated, loc), mdEscape(strings.Join(r.Query.Inputs, ", ")))
	p("## 概要 / Summary\n\n")
	p("| | |\n|---|---|\n")
	p("| 影響を受ける本人（個人番号） / People (My Numbers) | %s |\n", countText(r.Persons))
	p("| 法人番号 / Corporate numbers | %s |\n", countText(r.CorporateNumbers))
	p("| 根拠 / Basis | %s |\n", mdEscape(r.Persons.Basis))
	var kinds []string
	for _, k := range r.PIITypes {
		kinds = append(kinds, piiLabel(k))
	}
	if len(kinds) == 0 {
		kinds = []string{"検出なし none detected"}
	}
	p("| 番号と共に漏えいした情報 / Information with the numbers | %s |\n", strings.Join(kinds, ", "))
	p("| 流出経路 / Flows out | %d |\n", len(r.Flows))
	p("| ホスト / Hosts | %s |\n", mdEscape(strings.Join(r.Hosts, ", ")))
	if r.Window.First != nil {
		p("| 期間 / Window | %s – %s |\n", tf(*r.Window.First, loc), tf(*r.Window.Last, loc))
	}
	p("\n## 報告期限 / Deadlines (個人情報保護委員会 PPC)\n\n")
	p("| | |\n|---|---|\n")
	d := r.Deadlines
	p("| 発覚 / Discovered | %s |\n", tf(d.Discovered, loc))
	p("| 速報 / Preliminary report (3–5 days) | %s – %s |\n", tf(d.PreliminaryFrom, loc), tf(d.PreliminaryDue, loc))
	p("| 確報 / Final report (%d days%s) | %s |\n", d.FinalDays, map[bool]string{true: ", malicious 不正目的", false: ""}[d.Malicious], tf(d.Final, loc))
	p("\n## 行為者 / People who acted\n\n")
	p("| ホスト host | ログインユーザー login user | SSH接続元 SSH source | 経路数 flows |\n|---|---|---|---|\n")
	for _, pe := range r.People {
		p("| %s | %s | %s | %d |\n", mdEscape(pe.Host), mdEscape(pe.LoginUser), mdEscape(strings.Join(pe.Sources, ", ")), pe.Flows)
	}
	p("\n## 保護ファイル / Protected files read\n\n")
	p("| ホスト host | ファイル file | 最初の読取り first read | 読取り readers | 保存時の人数 at rest |\n|---|---|---|---|---|\n")
	for _, s := range r.Sources {
		rest := "不明 not known"
		if s.AtRest != nil {
			rest = strconv.Itoa(s.AtRest.Persons) + " (" + mdEscape(s.AtRest.From) + ")"
		}
		p("| %s | %s | %s | %s | %s |\n", mdEscape(s.Host), mdEscape(s.Path), tf(s.FirstRead, loc), mdEscape(strings.Join(s.Readers, "; ")), rest)
	}
	p("\n## 流出経路 / Flows\n\n")
	for _, f := range r.Flows {
		p("### %d. %s → %s\n\n", f.ID, viaLabel(f.Via), mdEscape(DestText(f.Destination)))
		p("| | |\n|---|---|\n")
		p("| 日時 / Time | %s", tf(f.Time, loc))
		if !f.LastTime.IsZero() && !f.LastTime.Equal(f.Time) {
			p(" – %s", tf(f.LastTime, loc))
		}
		p(" |\n")
		p("| ホスト / Host | %s |\n", mdEscape(f.Host))
		p("| 本人 / Login user | %s |\n", mdEscape(f.LoginUser))
		p("| SSH接続元 / SSH source | %s |\n", mdEscape(f.SSHSource))
		p("| プロセス / Process | %s |\n", mdEscape(f.Process.CommandLine))
		p("| 親プロセス / Ancestry | %s |\n", mdEscape(ancestryText(f.Process)))
		p("| 宛先 / Destination | %s |\n", mdEscape(DestText(f.Destination)))
		if f.AtRestBytes > 0 {
			p("| バイト数 / Bytes | %d (検査 scanned %d; 書込み後にファイル全体 %d バイトを検査 whole file scanned at rest) |\n", f.Bytes, f.SampledBytes, f.AtRestBytes)
		} else {
			p("| バイト数 / Bytes | %d (検査 scanned %d) |\n", f.Bytes, f.SampledBytes)
		}
		p("| 本人数 / People | %s |\n", countText(f.Persons))
		if f.CorporateNumbers.Lower > 0 {
			p("| 法人番号 / Corporate numbers | %s |\n", countText(f.CorporateNumbers))
		}
		var k []string
		for _, x := range f.PIITypes {
			k = append(k, piiLabel(x))
		}
		p("| 付随情報 / With | %s |\n", strings.Join(k, ", "))
		p("| 由来 / From | %s |\n", mdEscape(strings.Join(f.From, ", ")))
		if len(f.Alerts) > 0 {
			p("| アラート / Alerts | %s |\n", mdEscape(strings.Join(f.Alerts, ", ")))
		}
		p("\n")
	}
	p("## 不明な点 / What is not known\n\n")
	if len(r.Unknowns) == 0 {
		p("記録上の欠落は見つかりませんでした。 No loss or damage is recorded for this window.\n")
	}
	for _, u := range r.Unknowns {
		host := ""
		if u.Host != "" {
			host = " (" + mdEscape(u.Host) + ")"
		}
		p("- **%s**%s: %d — %s\n", mdEscape(u.Kind), host, u.Count, mdEscape(u.Detail))
	}
	p("\n番号そのものは記載していません（鍵付きハッシュのみ）。 No number is shown; only keyed hashes identify people (JSON report).\n")
	_, err := w.Write(b.Bytes())
	return err
}

// WriteHTML writes the report as one self-contained HTML page (no
// external resource): the summary, deadlines, a timeline drawn as inline
// SVG, a table per flow and what is not known, with the JSON report
// embedded for `bansho incident affected --incident`.
func (r *Report) WriteHTML(w io.Writer, loc *time.Location) error {
	js, err := json.Marshal(r) // escapes <, > and & for a script element
	if err != nil {
		return err
	}
	v := struct {
		R        *Report
		Loc      *time.Location
		SVG      template.HTML
		JSON     template.JS
		Persons  string
		Corp     string
		PCard    string
		CCard    string
		PBound   string
		CBound   string
		PII      []string
		Deadline Deadlines
	}{R: r, Loc: loc, SVG: template.HTML(r.timelineSVG(loc)), JSON: template.JS(js),
		Persons: countText(r.Persons), Corp: countText(r.CorporateNumbers), Deadline: r.Deadlines,
		PCard: cardText(r.Persons), CCard: cardText(r.CorporateNumbers), PBound: boundText(r.Persons), CBound: boundText(r.CorporateNumbers)}
	for _, k := range r.PIITypes {
		v.PII = append(v.PII, piiLabel(k))
	}
	return htmlTmpl.Execute(w, v)
}

var htmlTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"t": func(t time.Time, loc *time.Location) string { return tf(t, loc) },
	"tp": func(t *time.Time, loc *time.Location) string {
		if t == nil {
			return ""
		}
		return tf(*t, loc)
	},
	"dest":     DestText,
	"via":      viaLabel,
	"pii":      piiLabel,
	"count":    countText,
	"ancestry": ancestryText,
	"join":     strings.Join,
	"neq":      func(a, b time.Time) bool { return !a.IsZero() && !a.Equal(b) },
}).Parse(`<!DOCTYPE html>
<html lang="ja"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>個人データ漏えい等事案 調査報告 / Incident report</title>
<style>
body{font-family:"Noto Sans CJK JP","Hiragino Sans","Yu Gothic",sans-serif;margin:2em;color:#222;max-width:1200px}
h1{font-size:1.5em;border-bottom:3px solid #b22;padding-bottom:.3em}
h2{font-size:1.2em;margin-top:1.8em;border-left:6px solid #b22;padding-left:.5em}
h3{font-size:1em;margin-top:1.2em}
table{border-collapse:collapse;margin:.5em 0;width:100%}
th,td{border:1px solid #bbb;padding:.3em .6em;text-align:left;vertical-align:top;font-size:.92em}
th{background:#f3f3f3;width:16em}
.cards{display:flex;flex-wrap:wrap;gap:1em}
.card{border:1px solid #ccc;border-radius:6px;padding:.8em 1.2em;min-width:12em}
.card .n{font-size:1.8em;font-weight:bold;color:#b22}
.card .l{font-size:.85em;color:#555}
.warn{background:#fff5e6}
.small{font-size:.85em;color:#555}
code{font-size:.9em}
svg{border:1px solid #ddd;background:#fff}
</style></head>
<body>
<h1>個人データ漏えい等事案 調査報告<br><span class="small">Incident report: scope of the leak of My Numbers</span></h1>
<p class="small">作成 Generated {{t .R.Generated .Loc}} · bansho · 入力 input: {{join .R.Query.Inputs ", "}}{{if .R.Query.Files}} · ファイル file: {{join .R.Query.Files ", "}}{{end}}{{if .R.Query.User}} · 利用者 user: {{.R.Query.User}}{{end}}{{if .R.Query.AlertID}} · アラート alert: {{.R.Query.AlertID}}{{end}}</p>

<h2>概要 / Summary</h2>
<div class="cards">
<div class="card"><div class="n" id="persons-card">{{.PCard}}</div><div class="l">影響を受ける本人（個人番号）<br>People affected (My Numbers)<br>{{.PBound}}</div></div>
<div class="card"><div class="n" id="corporate-card">{{.CCard}}</div><div class="l">法人番号<br>Corporate numbers<br>{{.CBound}}</div></div>
<div class="card"><div class="n" id="flow-count">{{len .R.Flows}}</div><div class="l">流出経路<br>Flows out</div></div>
<div class="card"><div class="n" id="host-count">{{len .R.Hosts}}</div><div class="l">ホスト<br>Hosts</div></div>
</div>
<table>
<tr><th>本人の数<br>People</th><td id="persons">{{.Persons}}</td></tr>
<tr><th>法人番号<br>Corporate numbers</th><td id="corporate-numbers">{{.Corp}}</td></tr>
<tr><th>人数の根拠<br>Basis of the count</th><td id="persons-basis">{{.R.Persons.Basis}}</td></tr>
<tr><th>番号と共に漏えいした情報<br>Information with the numbers</th><td id="pii-types">{{if .PII}}{{join .PII ", "}}{{else}}検出なし none detected{{end}}</td></tr>
<tr><th>ホスト<br>Hosts</th><td>{{join .R.Hosts ", "}}</td></tr>
{{if .R.Window.First}}<tr><th>期間<br>Window</th><td>{{tp .R.Window.First .Loc}} – {{tp .R.Window.Last .Loc}}</td></tr>{{end}}
</table>

<h2>報告期限 / Deadlines (個人情報保護委員会 Personal Information Protection Commission)</h2>
<table id="deadlines">
<tr><th>発覚 Discovered</th><td>{{t .Deadline.Discovered .Loc}}</td></tr>
<tr><th>速報 Preliminary report<br><span class="small">速やかに（3〜5日以内） promptly, within 3–5 days</span></th><td>{{t .Deadline.PreliminaryFrom .Loc}} – {{t .Deadline.PreliminaryDue .Loc}}</td></tr>
<tr><th>確報 Final report<br><span class="small">{{.Deadline.FinalDays}}日以内{{if .Deadline.Malicious}}（不正の目的） malicious{{end}} within {{.Deadline.FinalDays}} days</span></th><td>{{t .Deadline.Final .Loc}}</td></tr>
<tr><th>本人への通知 Notify each person</th><td>速やかに promptly: <code>bansho incident affected --incident this-report.html --roster ROSTER.csv</code></td></tr>
</table>

<h2>時系列 / Timeline</h2>
{{.SVG}}

<h2>行為者 / People who acted</h2>
<table id="people"><tr><th>ホスト host</th><th>ログインユーザー login user</th><th>SSH接続元 SSH source</th><th>経路数 flows</th></tr>
{{range .R.People}}<tr><td>{{.Host}}</td><td class="login-user">{{.LoginUser}}</td><td class="ssh-source">{{join .Sources ", "}}</td><td>{{.Flows}}</td></tr>
{{end}}</table>

<h2>読み取られた保護ファイル / Protected files read</h2>
<table id="sources"><tr><th>ホスト host</th><th>ファイル file</th><th>最初の読取り first read</th><th>読取り readers</th><th>保存時の人数 people at rest</th></tr>
{{range .R.Sources}}<tr><td>{{.Host}}</td><td>{{.Path}}</td><td>{{t .FirstRead $.Loc}}</td><td>{{join .Readers "; "}}</td><td>{{if .AtRest}}{{.AtRest.Persons}} <span class="small">({{.AtRest.From}})</span>{{else}}不明 not known{{end}}</td></tr>
{{end}}</table>

<h2>流出経路 / Flows out</h2>
{{range .R.Flows}}
<h3 id="flow-{{.ID}}">{{.ID}}. {{via .Via}} → {{dest .Destination}}</h3>
<table class="flow" data-flow="{{.ID}}" data-persons="{{.Persons.Lower}}">
<tr><th>日時 Time</th><td>{{t .Time $.Loc}}{{if neq .LastTime .Time}} – {{t .LastTime $.Loc}}{{end}}</td></tr>
<tr><th>ホスト Host</th><td>{{.Host}}</td></tr>
<tr><th>本人 Login user</th><td>{{.LoginUser}}</td></tr>
<tr><th>SSH接続元 SSH source</th><td>{{.SSHSource}}</td></tr>
<tr><th>プロセス Process</th><td><code>{{.Process.CommandLine}}</code><br><span class="small">{{.Process.Executable}} · user {{.Process.User}}</span></td></tr>
<tr><th>親プロセス Ancestry</th><td>{{ancestry .Process}}</td></tr>
<tr><th>宛先 Destination</th><td>{{dest .Destination}}</td></tr>
<tr><th>バイト数 Bytes</th><td>{{.Bytes}} <span class="small">(検査 scanned {{.SampledBytes}}{{if .AtRestBytes}}; 書込み後にファイル全体を検査 whole file ({{.AtRestBytes}}) scanned at rest{{end}}{{if not .Complete}}; 一部のみ only part{{end}})</span></td></tr>
<tr{{if not .Persons.Exact}} class="warn"{{end}}><th>本人数 People</th><td>{{count .Persons}}<br><span class="small">{{.Persons.Basis}}</span></td></tr>
{{if .CorporateNumbers.Lower}}<tr><th>法人番号 Corporate numbers</th><td>{{count .CorporateNumbers}}</td></tr>{{end}}
<tr><th>付随情報 With the numbers</th><td>{{range $i, $k := .PIITypes}}{{if $i}}, {{end}}{{pii $k}}{{end}}</td></tr>
<tr><th>由来 From</th><td>{{join .From ", "}}</td></tr>
{{if .Alerts}}<tr><th>アラート Alerts</th><td>{{join .Alerts ", "}}</td></tr>{{end}}
</table>
{{else}}<p id="no-flows">流出経路は記録されていません。 No flow out is recorded.</p>
{{end}}

<h2>不明な点 / What is not known</h2>
{{if .R.Unknowns}}<table id="unknowns"><tr><th>種類 kind</th><th>ホスト host</th><th>件数 count</th><th>内容 detail</th></tr>
{{range .R.Unknowns}}<tr class="warn"><td>{{.Kind}}</td><td>{{.Host}}</td><td>{{.Count}}</td><td>{{.Detail}}</td></tr>
{{end}}</table>{{else}}<p id="unknowns">記録上の欠落は見つかりませんでした。 No loss or damage is recorded for this window.</p>{{end}}

<p class="small">番号そのものは記載していません。本人は鍵付きハッシュ（HMAC-SHA256）でのみ識別されます。 No number is shown anywhere; people are identified only by keyed hashes, embedded below for <code>bansho incident affected</code>.</p>
<script type="application/json" id="bansho-incident">{{.JSON}}</script>
</body></html>
`))

// timelineSVG draws the incident on a time axis: lanes for the
// protected files, the people, the processes and the destinations, and
// for each flow a line from person through process to destination.
func (r *Report) timelineSVG(loc *time.Location) string {
	type lane struct {
		label string
		band  string
	}
	var lanes []lane
	idx := map[string]int{}
	add := func(band, key, label string) int {
		k := band + "\x00" + key
		if i, ok := idx[k]; ok {
			return i
		}
		idx[k] = len(lanes)
		lanes = append(lanes, lane{label: label, band: band})
		return idx[k]
	}
	for _, s := range r.Sources {
		add("file", s.Host+":"+s.Path, s.Path)
	}
	for _, f := range r.Flows {
		add("person", f.Host+f.LoginUser, f.LoginUser+" @"+f.Host)
	}
	for _, f := range r.Flows {
		add("process", f.Host+f.Process.EntityID, fmt.Sprintf("%s[%d]", f.Process.Name, f.Process.PID))
	}
	for _, f := range r.Flows {
		add("dest", f.Host+DestText(f.Destination), DestText(f.Destination))
	}
	if len(lanes) == 0 {
		return `<svg id="timeline" xmlns="http://www.w3.org/2000/svg" width="600" height="40"><text x="10" y="25" font-size="13">記録なし no events</text></svg>`
	}
	var t0, t1 time.Time
	note := func(t time.Time) {
		if t.IsZero() {
			return
		}
		if t0.IsZero() || t.Before(t0) {
			t0 = t
		}
		if t.After(t1) {
			t1 = t
		}
	}
	for _, s := range r.Sources {
		note(s.FirstRead)
	}
	for _, f := range r.Flows {
		note(f.Time)
	}
	span := t1.Sub(t0)
	if span <= 0 {
		span = time.Second
	}
	const left, right, top, rowH = 330, 30, 40, 22
	width := 1100
	plotW := width - left - right
	height := top + rowH*len(lanes) + 30
	x := func(t time.Time) float64 {
		return float64(left) + float64(plotW)*float64(t.Sub(t0))/float64(span)
	}
	y := func(i int) int { return top + rowH*i + rowH/2 }
	colors := map[string]string{"file": "#b22", "person": "#2a6", "process": "#36c", "dest": "#a60"}
	bandNames := map[string]string{"file": "保護ファイル files", "person": "本人 people", "process": "プロセス processes", "dest": "宛先 destinations"}
	var b strings.Builder
	esc := func(s string) string {
		var e bytes.Buffer
		template.HTMLEscape(&e, []byte(s))
		return e.String()
	}
	fmt.Fprintf(&b, `<svg id="timeline" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif">`, width, height, width, height)
	// Axis with ticks.
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#999"/>`, left, top-10, width-right, top-10)
	for i := 0; i <= 4; i++ {
		t := t0.Add(span * time.Duration(i) / 4)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="11" text-anchor="middle" fill="#555">%s</text>`, x(t), top-15, esc(t.In(loc).Format("15:04:05")))
	}
	fmt.Fprintf(&b, `<text x="4" y="14" font-size="11" fill="#555">%s – %s</text>`, esc(tf(t0, loc)), esc(tf(t1, loc)))
	prevBand := ""
	for i, l := range lanes {
		if i%2 == 0 {
			fmt.Fprintf(&b, `<rect x="0" y="%d" width="%d" height="%d" fill="#fafafa"/>`, top+rowH*i, width, rowH)
		}
		if l.band != prevBand {
			fmt.Fprintf(&b, `<line x1="0" y1="%d" x2="%d" y2="%d" stroke="#ccc"/>`, top+rowH*i, width, top+rowH*i)
			fmt.Fprintf(&b, `<text x="4" y="%d" font-size="10" fill="%s">%s</text>`, top+rowH*i+9, colors[l.band], esc(bandNames[l.band]))
			prevBand = l.band
		}
		label := l.label
		if r := []rune(label); len(r) > 38 {
			label = "…" + string(r[len(r)-37:])
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="12" text-anchor="end" fill="%s"><title>%s</title>%s</text>`, left-8, y(i)+4, colors[l.band], esc(l.label), esc(label))
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#eee"/>`, left, y(i), width-right, y(i))
	}
	for _, s := range r.Sources {
		i := idx["file\x00"+s.Host+":"+s.Path]
		fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="8" height="8" fill="%s"><title>%s %s</title></rect>`, x(s.FirstRead)-4, y(i)-4, colors["file"], esc(s.Path), esc(tf(s.FirstRead, loc)))
	}
	flows := append([]Flow(nil), r.Flows...)
	sort.SliceStable(flows, func(i, j int) bool { return flows[i].Time.Before(flows[j].Time) })
	for _, f := range flows {
		px := x(f.Time)
		ip := idx["person\x00"+f.Host+f.LoginUser]
		ipr := idx["process\x00"+f.Host+f.Process.EntityID]
		id := idx["dest\x00"+f.Host+DestText(f.Destination)]
		title := esc(fmt.Sprintf("#%d %s %s → %s, %d bytes, people %s", f.ID, tf(f.Time, loc), f.Process.Name, DestText(f.Destination), f.Bytes, countText(f.Persons)))
		fmt.Fprintf(&b, `<g class="flow-mark"><title>%s</title>`, title)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#888" stroke-dasharray="3,2"/>`, px, y(ip), px, y(ipr))
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" stroke-width="2"/>`, px, y(ipr), px, y(id), colors["dest"])
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="%d" r="4" fill="%s"/>`, px, y(ip), colors["person"])
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="%d" r="5" fill="%s"/>`, px, y(ipr), colors["process"])
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="%d" r="6" fill="%s"/>`, px, y(id), colors["dest"])
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="10" fill="#333">%d</text>`, px+7, y(id)-5, f.ID)
		b.WriteString(`</g>`)
	}
	b.WriteString(`</svg>`)
	return b.String()
}
