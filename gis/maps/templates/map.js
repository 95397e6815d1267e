/* Linyuan field map: draws the layers embedded in #ly-data with Leaflet's canvas renderer.
 *
 * Safety rule: text from the data (values, field names, aliases, layer names, attribution)
 * reaches the page only through textContent, or through esc() where Leaflet itself takes HTML
 * (layer switcher names, attribution). Nothing from the data is ever passed to innerHTML or
 * evaluated.
 */
(function () {
  "use strict";
  var DATA = JSON.parse(document.getElementById("ly-data").textContent);
  var UI = DATA.ui;
  var SCALE = 1e6;

  function esc(value) {
    return String(value)
      .replace(/&/g, "&amp;").replace(/[<]/g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;").replace(/'/g, "&#39;").replace(/`/g, "&#96;");
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  /* Delta-encoded integer microdegrees [dx, dy, dx, dy, ...] → L.LatLng array. */
  function decodeLatLngs(deltas) {
    var out = new Array(deltas.length / 2), x = 0, y = 0;
    for (var i = 0, j = 0; i < deltas.length; i += 2, j++) {
      x += deltas[i]; y += deltas[i + 1];
      out[j] = L.latLng(y / SCALE, x / SCALE);
    }
    return out;
  }

  /* Nested parts → rings → vertices, from the ragged offsets of a layer. */
  function polygonLatLngs(latlngs, g, f) {
    var parts = [];
    for (var p = g.features[f]; p < g.features[f + 1]; p++) {
      var rings = [];
      for (var r = g.parts[p]; r < g.parts[p + 1]; r++) {
        rings.push(latlngs.slice(g.rings[r], g.rings[r + 1]));
      }
      parts.push(rings);
    }
    return parts;
  }

  function lineLatLngs(latlngs, g, f) {
    var lines = [];
    for (var p = g.features[f]; p < g.features[f + 1]; p++) {
      lines.push(latlngs.slice(g.parts[p], g.parts[p + 1]));
    }
    return lines;
  }

  function colorOf(def, row) {
    var s = def.style;
    if (s.field === null) { return s.color; }
    var value = row[s.field];
    var hit = Object.prototype.hasOwnProperty.call(s.colors, String(value));
    return hit ? s.colors[String(value)] : s.color;
  }

  var renderer = L.canvas({ padding: 0.5, tolerance: 6 });

  function shapeOptions(def, color) {
    var s = def.style;
    return {
      renderer: renderer, color: color, fillColor: color, weight: s.context ? 1 : 2,
      opacity: s.context ? 0.7 : 1, fillOpacity: s.fill_opacity, fill: def.geom === "polygon"
    };
  }

  function buildShapes(def) {
    var latlngs = decodeLatLngs(def.coords), n = def.rows.length, shapes = new Array(n);
    var cache = {};
    for (var f = 0; f < n; f++) {
      var color = colorOf(def, def.rows[f]);
      var opts = cache[color] || (cache[color] = shapeOptions(def, color));
      shapes[f] = def.geom === "polygon"
        ? L.polygon(polygonLatLngs(latlngs, def.offsets, f), opts)
        : L.polyline(lineLatLngs(latlngs, def.offsets, f), opts);
      shapes[f]._ly = f;
    }
    return L.featureGroup(shapes);
  }

  function buildPoints(def) {
    var latlngs = decodeLatLngs(def.coords), n = def.rows.length, markers = new Array(n);
    var cache = {};
    for (var f = 0; f < n; f++) {
      var color = colorOf(def, def.rows[f]);
      var opts = cache[color] || (cache[color] = {
        renderer: renderer, radius: 7, color: "#ffffff", weight: 1.5,
        fillColor: color, fillOpacity: 0.95
      });
      markers[f] = L.circleMarker(latlngs[f], opts);
      markers[f]._ly = f;
    }
    var group = L.markerClusterGroup({
      chunkedLoading: false, showCoverageOnHover: false, maxClusterRadius: 60,
      disableClusteringAtZoom: 18, spiderfyOnMaxZoom: true
    });
    group.addLayers(markers);
    group._lyMarkers = markers;
    return group;
  }

  function navPoint(def, layer, f) {
    if (def.nav) {
      return L.latLng(def.nav[2 * f + 1] / SCALE, def.nav[2 * f] / SCALE);
    }
    return layer.getLatLng ? layer.getLatLng() : layer.getBounds().getCenter();
  }

  function geoLink(latlng) {
    var lat = latlng.lat.toFixed(6), lon = latlng.lng.toFixed(6);
    var a = el("a", "ly-nav", UI.navigate);
    a.href = "geo:" + lat + "," + lon + "?q=" + lat + "," + lon;
    return a;
  }

  function popupContent(def, f, latlng) {
    var box = el("div", "ly-popup");
    box.appendChild(el("div", "ly-popup-title", def.label));
    var table = el("table", "ly-attrs"), row = def.rows[f];
    for (var i = 0; i < def.fields.length; i++) {
      var tr = el("tr");
      tr.appendChild(el("th", null, def.aliases[i]));
      var value = row[i];
      tr.appendChild(el("td", null, value === null ? "" : value));
      table.appendChild(tr);
    }
    box.appendChild(table);
    box.appendChild(geoLink(latlng));
    return box;
  }

  function openPopup(map, def, layer) {
    var f = layer._ly, at = navPoint(def, layer, f);
    L.popup({ maxWidth: 320, maxHeight: 360, autoPanPadding: [20, 20] })
      .setLatLng(layer.getLatLng ? layer.getLatLng() : at)
      .setContent(popupContent(def, f, at))
      .openOn(map);
  }

  /* ---- controls ---------------------------------------------------------------------- */

  function legendControl(defs) {
    var control = L.control({ position: "bottomright" });
    control.onAdd = function () {
      var box = el("div", "ly-legend leaflet-bar");
      box.appendChild(el("div", "ly-legend-title", UI.legend));
      defs.forEach(function (def) {
        box.appendChild(el("div", "ly-legend-layer", def.label));
        def.legend.forEach(function (entry) {
          var item = el("div", "ly-legend-item");
          var swatch = el("span", def.geom === "point" ? "ly-swatch ly-dot" : "ly-swatch");
          swatch.style.background = entry[0];
          item.appendChild(swatch);
          item.appendChild(el("span", null, entry[1]));
          box.appendChild(item);
        });
      });
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.disableScrollPropagation(box);
      return box;
    };
    return control;
  }

  function searchIndex(defs, groups) {
    var index = new Map();
    defs.forEach(function (def, k) {
      if (def.id_field === null) { return; }
      var layers = groups[k]._lyMarkers || groups[k].getLayers();
      layers.forEach(function (layer) {
        var key = String(def.rows[layer._ly][def.id_field]).trim();
        if (!index.has(key)) { index.set(key, [k, layer]); }
      });
    });
    return index;
  }

  function showFound(map, def, group, layer) {
    if (group._lyMarkers) {
      group.zoomToShowLayer(layer, function () { openPopup(map, def, layer); });
      return;
    }
    if (!map.hasLayer(group)) { map.addLayer(group); }
    map.fitBounds(layer.getBounds(), { maxZoom: 17 });
    openPopup(map, def, layer);
  }

  function searchControl(map, defs, groups) {
    var control = L.control({ position: "topright" }), index = null;
    control.onAdd = function () {
      var box = el("div", "ly-search leaflet-bar");
      var input = el("input", "ly-search-input");
      input.type = "search";
      input.placeholder = UI.search;
      var status = el("div", "ly-search-status");
      input.addEventListener("keydown", function (event) {
        if (event.key !== "Enter") { return; }
        index = index || searchIndex(defs, groups);
        var hit = index.get(input.value.trim());
        status.textContent = hit ? "" : UI.not_found;
        if (hit) { showFound(map, defs[hit[0]], groups[hit[0]], hit[1]); }
      });
      box.appendChild(input);
      box.appendChild(status);
      L.DomEvent.disableClickPropagation(box);
      return box;
    };
    return control;
  }

  function titleControl() {
    var control = L.control({ position: "topright" });
    control.onAdd = function () { return el("div", "ly-title", DATA.title); };
    return control;
  }

  function basemapLayers(map) {
    var b = DATA.basemap;
    if (!b) { return {}; }
    var opts = { subdomains: b.subdomains.length ? b.subdomains : "abc", maxZoom: 20,
                 maxNativeZoom: b.max_zoom, attribution: esc(b.attribution) };
    var tiles = [L.tileLayer(b.url, opts)];
    b.overlays.forEach(function (url) {
      tiles.push(L.tileLayer(url, L.extend({}, opts, { attribution: "" })));
    });
    var group = L.layerGroup(tiles).addTo(map);
    var named = {};
    named[esc(b.attribution)] = group;
    return named;
  }

  function addControls(map, defs, groups) {
    var overlays = {};
    defs.forEach(function (def, k) { overlays[esc(def.label)] = groups[k]; });
    L.control.layers(basemapLayers(map), overlays, { collapsed: true }).addTo(map);
    L.control.scale({ imperial: false, position: "bottomleft" }).addTo(map);
    new L.Control.FullScreen({ title: UI.fullscreen, titleCancel: UI.exit_fullscreen })
      .addTo(map);
    L.control.locate({
      strings: { title: UI.locate }, flyTo: false, setView: "always",
      keepCurrentZoomLevel: false, initialZoomLevel: 16, showPopup: false,
      locateOptions: { enableHighAccuracy: true, maxZoom: 17 }
    }).addTo(map);
    L.control.polylineMeasure({
      position: "topleft", unit: "kilometres", showClearControl: true,
      measureControlTitleOn: UI.measure, measureControlTitleOff: UI.measure,
      clearControlTitle: "×", tooltipTextFinish: "", tooltipTextDelete: "",
      tooltipTextMove: "", tooltipTextResume: "", tooltipTextAdd: ""
    }).addTo(map);
    titleControl().addTo(map);
    searchControl(map, defs, groups).addTo(map);
    legendControl(defs.filter(function (d) { return d.legend.length > 0; })).addTo(map);
  }

  function start() {
    L.Icon.Default.imagePath = "";
    L.Icon.Default.mergeOptions(DATA.icons);
    var map = L.map("ly-map", {
      preferCanvas: true, renderer: renderer, zoomControl: true, minZoom: 3, maxZoom: 20
    });
    var b = DATA.bounds;
    if (b) { map.fitBounds([[b[1], b[0]], [b[3], b[2]]], { maxZoom: 17 }); } else { map.setView([43.9, 125.3], 9); }
    var defs = DATA.layers, groups = [];
    defs.forEach(function (def) {
      var group = def.geom === "point" ? buildPoints(def) : buildShapes(def);
      group.on("click", function (event) { openPopup(map, def, event.layer); });
      group.addTo(map);
      groups.push(group);
    });
    addControls(map, defs, groups);
    window.__map = map;
    window.__groups = groups;
    requestAnimationFrame(function () { window.__ready = performance.now(); });
  }

  start();
})();
