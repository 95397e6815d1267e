/* Linyuan field map runtime: the functions behind the map's folium elements (gis.maps.elements).
 *
 * Each element renders its options as a JSON block (<script type="application/json">) and one
 * call of this runtime in the map script: LY.init(map, config) for the map, LY.addLayer for a
 * packed layer, LY.legend, LY.search, ... Layers register themselves in LY.defs / LY.groups so
 * that search, legend, layer switcher and the verification form (verify.js) find them.
 *
 * Safety rule: text from the data (values, field names, aliases, layer names, attribution)
 * reaches the page only through textContent, or through esc() where Leaflet itself takes HTML
 * (layer switcher names, attribution). Nothing from the data is ever passed to innerHTML or
 * evaluated.
 */
(function () {
  "use strict";
  performance.mark("ly-start");
  var SCALE = 1e6;
  var BATCH = 200;
  var UI = {};
  var LY = window.LY = {
    el: el, esc: esc, defs: [], groups: [], bases: {}, overlays: [], map: null, imagery: null
  };

  LY.data = function (id) {
    return JSON.parse(document.getElementById(id).textContent);
  };

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

  /* Integers packed by gis.maps.encode.pack_ints: zigzag varints, five bits per base64url
     character, a set sixth bit meaning "more follows". Arithmetic, not bit operations, so
     values past 2^31 stay exact. */
  var DIGITS = new Int8Array(128);
  (function () {
    var alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (var i = 0; i < 64; i++) { DIGITS[alphabet.charCodeAt(i)] = i; }
  })();

  function unpackInts(text) {
    var out = new Float64Array(text.length), n = 0, value = 0, mul = 1;
    for (var i = 0; i < text.length; i++) {
      var d = DIGITS[text.charCodeAt(i)];
      value += (d & 31) * mul;
      if (d < 32) {
        out[n++] = value % 2 ? -(value + 1) / 2 : value / 2;
        value = 0; mul = 1;
      } else {
        mul *= 32;
      }
    }
    return out.subarray(0, n);
  }

  function offsetsFrom(text) {
    var lengths = unpackInts(text), out = new Int32Array(lengths.length + 1);
    for (var i = 0; i < lengths.length; i++) { out[i + 1] = out[i] + lengths[i]; }
    return out;
  }

  function unpackLayer(def) {
    def.coords = unpackInts(def.coords);
    if (def.offsets) {
      Object.keys(def.offsets).forEach(function (key) {
        def.offsets[key] = offsetsFrom(def.offsets[key]);
      });
    }
  }

  /* Delta-encoded integer microdegrees [dx, dy, dx, dy, ...] → L.LatLng array. */
  function decodeLatLngs(deltas) {
    var out = new Array(deltas.length / 2), x = 0, y = 0;  // deltas: Float64Array
    for (var i = 0, j = 0; i < deltas.length; i += 2, j++) {
      x += deltas[i]; y += deltas[i + 1];
      out[j] = L.latLng(y / SCALE, x / SCALE);
    }
    return out;
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
      opacity: s.context ? 0.7 : 1, fill: false
    };
  }

  /* ---- polygons: one canvas per layer, drawn straight from typed arrays --------------
   * Leaflet's own paths cost one object per feature and per vertex, projected and clipped
   * again at every zoom; tens of thousands of subcompartments made that the slowest part
   * of the page. Here vertices are decoded once into Web Mercator world coordinates
   * (0..1), each colour class is drawn as one path, and clicks are hit-tested on the same
   * arrays (bounding boxes, then even-odd ray casting). */

  function mercatorY(lat) {
    var s = Math.sin(lat * Math.PI / 180);
    return 0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI);
  }

  function decodeWorld(def) {
    var d = def.coords, n = d.length / 2, X = new Float64Array(n), Y = new Float64Array(n);
    var x = 0, y = 0;
    for (var i = 0; i < n; i++) {
      x += d[2 * i]; y += d[2 * i + 1];
      X[i] = (x / SCALE + 180) / 360;
      Y[i] = mercatorY(y / SCALE);
    }
    return { X: X, Y: Y };
  }

  function featureBoxes(world, g, count) {
    var box = new Float64Array(4 * count);
    for (var f = 0; f < count; f++) {
      var v0 = g.rings[g.parts[g.features[f]]], v1 = g.rings[g.parts[g.features[f + 1]]];
      var a = Infinity, b = Infinity, c = -Infinity, e = -Infinity;
      for (var v = v0; v < v1; v++) {
        var X = world.X[v], Y = world.Y[v];
        if (X < a) { a = X; } if (X > c) { c = X; }
        if (Y < b) { b = Y; } if (Y > e) { e = Y; }
      }
      box[4 * f] = a; box[4 * f + 1] = b; box[4 * f + 2] = c; box[4 * f + 3] = e;
    }
    return box;
  }

  function classesOf(def) {
    var classes = {}, order = [];
    for (var f = 0; f < def.rows.length; f++) {
      var color = colorOf(def, def.rows[f]);
      if (!classes[color]) { classes[color] = []; order.push(color); }
      classes[color].push(f);
    }
    return order.map(function (color) { return { color: color, features: classes[color] }; });
  }

  function insideRing(world, v0, v1, X, Y) {
    var inside = false;
    for (var i = v0, j = v1 - 1; i < v1; j = i++) {
      var xi = world.X[i], yi = world.Y[i], xj = world.X[j], yj = world.Y[j];
      if ((yi > Y) !== (yj > Y) && X < (xj - xi) * (Y - yi) / (yj - yi) + xi) {
        inside = !inside;
      }
    }
    return inside;
  }

  var PolygonCanvas = L.Canvas.extend({
    initialize: function (def, options) {
      L.Canvas.prototype.initialize.call(this, options);
      this._def = def;
      this._world = decodeWorld(def);
      this._boxes = featureBoxes(this._world, def.offsets, def.rows.length);
      this._classes = classesOf(def);
    },

    _updatePaths: function () {
      if (!this._postponeUpdatePaths) { this._redraw(); }
    },

    _redraw: function () {
      this._redrawRequest = null;
      this._draw();
    },

    _draw: function () {
      var ctx = this._ctx, map = this._map, b = this._bounds;
      if (!ctx || !map || !b) { return; }
      ctx.clearRect(b.min.x, b.min.y, b.max.x - b.min.x, b.max.y - b.min.y);
      var view = {
        s: 256 * Math.pow(2, map.getZoom()), o: map.getPixelOrigin(), b: b
      };
      var style = this._def.style;
      ctx.lineJoin = "round";
      ctx.lineWidth = style.context ? 1 : 2;
      for (var c = 0; c < this._classes.length; c++) {
        var cls = this._classes[c];
        ctx.fillStyle = cls.color;
        ctx.strokeStyle = cls.color;
        /* Paths of a few hundred features: Chromium's path cost grows faster than linearly
           with path size (one path for 4000 polygons: 740 ms; batches of 200: 52 ms). */
        for (var i = 0; i < cls.features.length; i += BATCH) {
          ctx.beginPath();
          this._trace(ctx, cls.features, i, Math.min(i + BATCH, cls.features.length), view);
          ctx.globalAlpha = style.fill_opacity;
          if (style.fill_opacity > 0) { ctx.fill(); }
          ctx.globalAlpha = style.context ? 0.7 : 1;
          ctx.stroke();
        }
      }
      ctx.globalAlpha = 1;
    },

    _trace: function (ctx, features, start, end, view) {
      var g = this._def.offsets, W = this._world, box = this._boxes, s = view.s;
      var ox = view.o.x, oy = view.o.y;
      var x0 = (view.b.min.x + ox) / s, y0 = (view.b.min.y + oy) / s;
      var x1 = (view.b.max.x + ox) / s, y1 = (view.b.max.y + oy) / s;
      for (var k = start; k < end; k++) {
        var f = features[k];
        if (box[4 * f] > x1 || box[4 * f + 2] < x0 || box[4 * f + 1] > y1 || box[4 * f + 3] < y0) {
          continue;
        }
        for (var r = g.parts[g.features[f]]; r < g.parts[g.features[f + 1]]; r++) {
          var v0 = g.rings[r], v1 = g.rings[r + 1];
          var px = W.X[v0] * s - ox, py = W.Y[v0] * s - oy;
          ctx.moveTo(px, py);
          for (var v = v0 + 1; v < v1; v++) {
            var qx = W.X[v] * s - ox, qy = W.Y[v] * s - oy;
            if (Math.abs(qx - px) + Math.abs(qy - py) < 0.8 && v < v1 - 1) { continue; }
            ctx.lineTo(qx, qy);
            px = qx; py = qy;
          }
          ctx.closePath();
        }
      }
    },

    /* Index of the feature under a map position, or -1 (the last drawn wins). */
    hitTest: function (latlng) {
      var X = (latlng.lng + 180) / 360, Y = mercatorY(latlng.lat);
      var g = this._def.offsets, box = this._boxes, W = this._world;
      for (var f = this._def.rows.length - 1; f >= 0; f--) {
        if (X < box[4 * f] || X > box[4 * f + 2] || Y < box[4 * f + 1] || Y > box[4 * f + 3]) {
          continue;
        }
        var inside = false;
        for (var r = g.parts[g.features[f]]; r < g.parts[g.features[f + 1]]; r++) {
          if (insideRing(W, g.rings[r], g.rings[r + 1], X, Y)) { inside = !inside; }
        }
        if (inside) { return f; }
      }
      return -1;
    },

    feature: function (f) {
      var box = this._boxes;
      var sw = L.CRS.EPSG3857.pointToLatLng(L.point(box[4 * f] * 256, box[4 * f + 3] * 256), 0);
      var ne = L.CRS.EPSG3857.pointToLatLng(L.point(box[4 * f + 2] * 256, box[4 * f + 1] * 256), 0);
      var bounds = L.latLngBounds(sw, ne);
      return { _ly: f, getBounds: function () { return bounds; } };
    },

    getLayers: function () {
      var out = [];
      for (var f = 0; f < this._def.rows.length; f++) { out.push(this.feature(f)); }
      return out;
    }
  });

  function buildLines(def) {
    var latlngs = decodeLatLngs(def.coords), n = def.rows.length, lines = new Array(n);
    var cache = {};
    for (var f = 0; f < n; f++) {
      var color = colorOf(def, def.rows[f]);
      var opts = cache[color] || (cache[color] = shapeOptions(def, color));
      lines[f] = L.polyline(lineLatLngs(latlngs, def.offsets, f), opts);
      lines[f]._ly = f;
    }
    return L.featureGroup(lines);
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
    /* Markers are added once the group is on the map (addMarkers): before that,
       markercluster's hasLayer scans a list per marker, quadratic in the count (3.6 s for
       100k markers). Clusters are computed up to zoom 15; from 16 every point shows. */
    var group = L.markerClusterGroup({
      chunkedLoading: false, showCoverageOnHover: false, maxClusterRadius: 80,
      disableClusteringAtZoom: 16, spiderfyOnMaxZoom: false
    });
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
      var value = row[i], words = def.words && def.words[i];
      if (value !== null && words && Object.prototype.hasOwnProperty.call(words, String(value))) {
        value = words[String(value)];  // a code shown by its meaning, a boolean as 是/否
      }
      tr.appendChild(el("td", null, value === null ? "" : value));
      table.appendChild(tr);
    }
    box.appendChild(table);
    box.appendChild(geoLink(latlng));
    if (def.verify && window.LY.verifyButton) {
      box.appendChild(window.LY.verifyButton(def, f, latlng));
    }
    return box;
  }

  function openPopup(map, def, layer, where) {
    var f = layer._ly, at = navPoint(def, layer, f);
    L.popup({ maxWidth: 320, maxHeight: 360, autoPanPadding: [20, 20] })
      .setLatLng(layer.getLatLng ? layer.getLatLng() : where || at)
      .setContent(popupContent(def, f, at))
      .openOn(map);
  }

  function clickPolygons(map, defs, groups, latlng) {
    for (var k = groups.length - 1; k >= 0; k--) {
      if (!groups[k].hitTest || !map.hasLayer(groups[k])) { continue; }
      var f = groups[k].hitTest(latlng);
      if (f >= 0) {
        openPopup(map, defs[k], groups[k].feature(f), latlng);
        return;
      }
    }
  }

  /* ---- the map and its layers (FieldMap, PackedLayer) ------------------------------ */

  LY.init = function (map, config) {
    UI = config.ui;
    LY.map = map;
    L.Icon.Default.imagePath = "";
    L.Icon.Default.mergeOptions(config.icons);
    var b = config.bounds;
    if (b) { map.fitBounds([[b[1], b[0]], [b[3], b[2]]], { maxZoom: 17 }); } else { map.setView([43.9, 125.3], 9); }
    map.on("click", function (event) { clickPolygons(map, LY.defs, LY.groups, event.latlng); });
    window.__map = map;
    window.__groups = LY.groups;
    return map;
  };

  LY.addLayer = function (map, def) {
    var k = LY.defs.length;
    unpackLayer(def);
    var group = def.geom === "point" ? buildPoints(def)
      : def.geom === "polygon" ? new PolygonCanvas(def, { padding: 0.5 }) : buildLines(def);
    performance.mark("ly-built-" + k);
    group.on("click", function (event) {
      L.DomEvent.stopPropagation(event);
      openPopup(map, def, event.layer);
    });
    group.addTo(map);
    if (group._lyMarkers) { group.addLayers(group._lyMarkers); }
    performance.mark("ly-added-" + k);
    LY.defs.push(def);
    LY.groups.push(group);
    LY.overlays.push([def.label, group]);
    return group;
  };

  /* ---- controls (Legend, Search, Title, LayerSwitcher, ...) ------------------------- */

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

  LY.legend = function (map) {
    return legendControl(LY.defs.filter(function (d) { return d.legend.length > 0; })).addTo(map);
  };

  LY.search = function (map) {
    return searchControl(map, LY.defs, LY.groups).addTo(map);
  };

  LY.title = function (map, options) {
    var control = L.control({ position: "topright" });
    control.onAdd = function () { return el("div", "ly-title", options.title); };
    return control.addTo(map);
  };

  LY.basemap = function (map, b) {
    var opts = { subdomains: b.subdomains.length ? b.subdomains : "abc", maxZoom: 20,
                 maxNativeZoom: b.max_zoom, attribution: esc(b.attribution) };
    var tiles = [L.tileLayer(b.url, opts)];
    b.overlays.forEach(function (url) {
      tiles.push(L.tileLayer(url, L.extend({}, opts, { attribution: "" })));
    });
    var group = L.layerGroup(tiles).addTo(map);
    LY.bases[esc(b.attribution)] = group;
    return group;
  };

  /* ---- quicklook: an image of a raster, embedded, under the layers --------------------
   * A JPEG cannot be transparent, so nodata travels as a PNG whose alpha is the mask; it is
   * applied here on a canvas and the overlay's image becomes a blob: URL (CSP img-src allows
   * data: and blob:, nothing else). */
  function applyMask(overlay, q) {
    var photo = new Image(), mask = new Image(), pending = 2;
    function loaded() {
      if (--pending > 0) { return; }
      var canvas = document.createElement("canvas");
      canvas.width = photo.naturalWidth; canvas.height = photo.naturalHeight;
      var ctx = canvas.getContext("2d");
      ctx.drawImage(photo, 0, 0);
      ctx.globalCompositeOperation = "destination-in";
      ctx.drawImage(mask, 0, 0, canvas.width, canvas.height);
      canvas.toBlob(function (blob) {
        if (blob) { overlay.setUrl(URL.createObjectURL(blob)); }
        window.__quicklookMasked = true;
      }, "image/png");
    }
    photo.onload = loaded; mask.onload = loaded;
    photo.src = q.image; mask.src = q.mask;
  }

  LY.quicklook = function (map, q) {
    map.createPane("ly-imagery").style.zIndex = 350;  /* over tiles (200), under layers (400) */
    var overlay = L.imageOverlay(q.image, q.bounds, { pane: "ly-imagery", interactive: false, alt: "" });
    overlay.addTo(map);
    if (q.mask) { applyMask(overlay, q); } else { window.__quicklookMasked = true; }
    window.__quicklook = overlay;
    LY.overlays.unshift([q.label, overlay]);
    return overlay;
  };

  /* Layer switcher: Linyuan's layers and any folium layer added to the map, every name
     escaped (Leaflet's layer control takes names as HTML). */
  LY.layerSwitcher = function (map) {
    var overlays = {};
    LY.overlays.forEach(function (entry) { overlays[esc(entry[0])] = entry[1]; });
    LY.switcher = L.control.layers(LY.bases, overlays, { collapsed: true }).addTo(map);
    return LY.switcher;
  };

  LY.scale = function (map) {
    return L.control.scale({ imperial: false, position: "bottomleft" }).addTo(map);
  };

  LY.fullscreen = function (map) {
    return new L.Control.FullScreen({ title: UI.fullscreen, titleCancel: UI.exit_fullscreen })
      .addTo(map);
  };

  LY.locate = function (map) {
    return L.control.locate({
      strings: { title: UI.locate }, flyTo: false, setView: "always",
      keepCurrentZoomLevel: false, initialZoomLevel: 16, showPopup: false,
      locateOptions: { enableHighAccuracy: true, maxZoom: 17 }
    }).addTo(map);
  };

  LY.measure = function (map) {
    return L.control.polylineMeasure({
      position: "topleft", unit: "kilometres", showClearControl: true,
      measureControlTitleOn: UI.measure, measureControlTitleOff: UI.measure,
      clearControlTitle: "×", tooltipTextFinish: "", tooltipTextDelete: "",
      tooltipTextMove: "", tooltipTextResume: "", tooltipTextAdd: ""
    }).addTo(map);
  };

  /* Last call of the map script: folium layers added by the user join the layer switcher
     (names escaped), then "ready" once a frame has been drawn. */
  LY.finish = function (map, labels, layers, front) {
    Object.keys(layers).forEach(function (name) {
      if (!LY.switcher || !layers[name]) { return; }
      var label = esc(labels[name][0]);
      if (labels[name][1]) { LY.switcher.addOverlay(layers[name], label); }
      else { LY.switcher.addBaseLayer(layers[name], label); }
    });
    function inFront() { front.forEach(function (layer) { layer.bringToFront(); }); }
    if (front.length) { map.on("overlayadd", inFront); inFront(); }
    performance.mark("ly-controls");
    requestAnimationFrame(function () { window.__ready = performance.now(); });
  };
})();
