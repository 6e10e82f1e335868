package kibana

import "fmt"

// column is one Lens column of a form-based layer. Bucketed columns
// (date histogram, terms) split the data; metric columns (count, sum,
// unique count, max) are the values.
type column struct {
	id    string
	op    string // date_histogram, terms, count, sum, unique_count, max
	field string // empty for count
	label string
	size  int    // terms: how many values
	order string // terms: the metric column id that orders the values
	kql   string // metric: only documents matching this KQL
}

func (c column) lens() map[string]any {
	m := map[string]any{"label": c.label, "customLabel": true, "operationType": c.op}
	switch c.op {
	case "date_histogram":
		m["dataType"], m["isBucketed"], m["scale"], m["sourceField"] = "date", true, "interval", c.field
		m["params"] = map[string]any{"interval": "1h", "includeEmptyRows": true, "dropPartials": false}
	case "terms":
		dt := "string"
		if numeric[c.field] {
			dt = "number"
		}
		m["dataType"], m["isBucketed"], m["scale"], m["sourceField"] = dt, true, "ordinal", c.field
		m["params"] = map[string]any{"size": c.size, "orderBy": map[string]any{"type": "column", "columnId": c.order},
			"orderDirection": "desc", "otherBucket": true, "missingBucket": false, "parentFormat": map[string]any{"id": "terms"}}
	case "count":
		m["dataType"], m["isBucketed"], m["scale"], m["sourceField"] = "number", false, "ratio", "___records___"
		m["params"] = map[string]any{"emptyAsNull": true}
	default: // sum, unique_count, max
		m["dataType"], m["isBucketed"], m["scale"], m["sourceField"] = "number", false, "ratio", c.field
		m["params"] = map[string]any{"emptyAsNull": true}
	}
	if c.kql != "" {
		m["filter"] = map[string]any{"query": c.kql, "language": "kuery"}
	}
	return m
}

// lens is one by-reference Lens visualization with a single data layer.
type lens struct {
	id, title, desc string
	vis             string // lnsXY, lnsDatatable, lnsMetric
	kql             string // the visualization's query
	columns         []column
	// lnsXY: x accessor, y accessors, optional split (breakdown) accessor,
	// series type (bar_stacked, bar_horizontal_stacked, line).
	x, split string
	ys       []string
	series   string
}

const layerID = "layer1"

// numeric are the long fields the visualizations split by (Lens types
// a terms column by its field).
var numeric = map[string]bool{"event.severity": true, "destination.port": true}

func (l lens) object() Object {
	cols := map[string]any{}
	order := make([]string, 0, len(l.columns))
	// Lens lists bucket columns before metrics.
	for _, bucketed := range []bool{true, false} {
		for _, c := range l.columns {
			if (c.op == "date_histogram" || c.op == "terms") == bucketed {
				cols[c.id] = c.lens()
				order = append(order, c.id)
			}
		}
	}
	var visualization map[string]any
	switch l.vis {
	case "lnsXY":
		layer := map[string]any{"layerId": layerID, "layerType": "data", "seriesType": l.series,
			"xAccessor": l.x, "accessors": l.ys}
		if l.split != "" {
			layer["splitAccessor"] = l.split
		}
		visualization = map[string]any{"legend": map[string]any{"isVisible": true, "position": "right"},
			"valueLabels": "hide", "preferredSeriesType": l.series, "layers": []any{layer}}
	case "lnsDatatable":
		vc := make([]any, 0, len(order))
		for _, id := range order {
			vc = append(vc, map[string]any{"columnId": id})
		}
		visualization = map[string]any{"layerId": layerID, "layerType": "data", "columns": vc}
	case "lnsMetric":
		visualization = map[string]any{"layerId": layerID, "layerType": "data", "metricAccessor": l.ys[0]}
	default:
		panic(fmt.Sprintf("lens %s: unknown visualization %s", l.id, l.vis))
	}
	state := map[string]any{
		"visualization": visualization,
		"query":         map[string]any{"query": l.kql, "language": "kuery"},
		"filters":       []any{},
		"datasourceStates": map[string]any{"formBased": map[string]any{"layers": map[string]any{
			layerID: map[string]any{"columns": cols, "columnOrder": order, "incompleteColumns": map[string]any{}},
		}}},
		"internalReferences": []any{},
		"adHocDataViews":     map[string]any{},
	}
	return object("lens", l.id, map[string]any{
		"title": l.title, "description": l.desc, "visualizationType": l.vis, "state": state,
	}, []Reference{{ID: DataViewID, Name: "indexpattern-datasource-layer-" + layerID, Type: "index-pattern"}})
}

// dashboard lays its visualizations out two per row.
type dashboard struct {
	id, title, desc string
	lenses          []lens
	widths          []int // per panel, of 48 columns; default 24
}

func (d dashboard) object() Object {
	var panels []any
	var refs []Reference
	x, y, rowH := 0, 0, 0
	for i, l := range d.lenses {
		w := 24
		if i < len(d.widths) && d.widths[i] > 0 {
			w = d.widths[i]
		}
		h := 15
		if l.vis == "lnsMetric" {
			h = 8
		}
		if x+w > 48 {
			x, y, rowH = 0, y+rowH, 0
		}
		idx := fmt.Sprint(i + 1)
		panels = append(panels, map[string]any{
			"type": "lens", "panelIndex": idx, "panelRefName": "panel_" + idx,
			"gridData":         map[string]any{"x": x, "y": y, "w": w, "h": h, "i": idx},
			"embeddableConfig": map[string]any{"enhancements": map[string]any{}},
		})
		refs = append(refs, Reference{ID: l.id, Name: idx + ":panel_" + idx, Type: "lens"})
		x += w
		rowH = max(rowH, h)
	}
	return object("dashboard", d.id, map[string]any{
		"title": d.title, "description": d.desc,
		"panelsJSON":  jsonString(panels),
		"optionsJSON": jsonString(map[string]any{"useMargins": true, "syncColors": false, "syncCursor": true, "syncTooltips": false, "hidePanelTitles": false}),
		"timeRestore": true, "timeFrom": "now-7d", "timeTo": "now",
		"refreshInterval": map[string]any{"pause": true, "value": 60000},
		"kibanaSavedObjectMeta": map[string]any{"searchSourceJSON": jsonString(map[string]any{
			"query": map[string]any{"query": "", "language": "kuery"}, "filter": []any{}})},
	}, refs)
}
