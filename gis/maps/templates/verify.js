/* Linyuan field verification: a form on each patch / point, records kept in IndexedDB (keyed by
 * the map's id), listed with counts, exported as one GeoJSON file in the format that
 * `linyuan verify import` reads (contract: docs/field-records.md, gis/verify/contract.py).
 * Text from the data reaches the page only through textContent. */
(function () {
  "use strict";
  var LY = window.LY;
  if (!LY) { return; }
  var DATA = null, UI = null, el = LY.el;
  var DB_NAME = "linyuan-field", STORE = "records", SCHEMA_VERSION = 1, MAX_SIDE = 1600;
  var MAX_PHOTOS = 20;
  var dbPromise = null, counter = null;

  function openDb() {
    if (!dbPromise) {
      dbPromise = new Promise(function (resolve, reject) {
        var request = indexedDB.open(DB_NAME, 1);
        request.onupgradeneeded = function () {
          var store = request.result.createObjectStore(STORE, { keyPath: "record_id" });
          store.createIndex("map_id", "map_id");
        };
        request.onsuccess = function () { resolve(request.result); };
        request.onerror = function () { reject(request.error); };
      });
      if (navigator.storage && navigator.storage.persist) {
        navigator.storage.persist().catch(function () { return false; });
      }
    }
    return dbPromise;
  }

  function transaction(mode, work) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(STORE, mode), request = work(tx.objectStore(STORE));
        tx.oncomplete = function () { resolve(request.result); };
        tx.onerror = function () { reject(tx.error); };
        tx.onabort = function () { reject(tx.error); };
      });
    });
  }

  function saveRecord(record) {
    return transaction("readwrite", function (store) { return store.put(record); });
  }

  function listRecords() {
    return transaction("readonly", function (store) {
      return store.index("map_id").getAll(DATA.map_id);
    });
  }

  /* ---- values of a record --------------------------------------------------------------- */

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function isoWithOffset(d) {
    var off = -d.getTimezoneOffset(), sign = off >= 0 ? "+" : "-";
    off = Math.abs(off);
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) +
      "T" + pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds()) +
      sign + pad(Math.floor(off / 60)) + ":" + pad(off % 60);
  }

  function uuid4() {
    if (crypto.randomUUID) { return crypto.randomUUID(); }
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); });
    return h.slice(0, 4).join("") + "-" + h.slice(4, 6).join("") + "-" +
      h.slice(6, 8).join("") + "-" + h.slice(8, 10).join("") + "-" + h.slice(10).join("");
  }

  function currentFix() {
    return new Promise(function (resolve) {
      if (!navigator.geolocation) { resolve(null); return; }
      navigator.geolocation.getCurrentPosition(
        function (p) { resolve(p.coords); },
        function () { resolve(null); },
        { enableHighAccuracy: true, timeout: 15000, maximumAge: 30000 });
    });
  }

  function base64(bytes) {
    var text = "";
    for (var i = 0; i < bytes.length; i += 0x8000) {
      text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    return btoa(text);
  }

  function hex(buffer) {
    return Array.prototype.map.call(new Uint8Array(buffer), function (x) {
      return (x + 256).toString(16).slice(1);
    }).join("");
  }

  /* A photo downscaled to at most MAX_SIDE px, as JPEG, with its SHA-256. */
  function photoRecord(file) {
    return createImageBitmap(file).then(function (image) {
      var k = Math.min(1, MAX_SIDE / Math.max(image.width, image.height));
      var canvas = document.createElement("canvas");
      canvas.width = Math.round(image.width * k);
      canvas.height = Math.round(image.height * k);
      canvas.getContext("2d").drawImage(image, 0, 0, canvas.width, canvas.height);
      return new Promise(function (resolve) { canvas.toBlob(resolve, "image/jpeg", 0.8); });
    }).then(function (blob) {
      return blob.arrayBuffer();
    }).then(function (buffer) {
      return crypto.subtle.digest("SHA-256", buffer).then(function (digest) {
        return { mime: "image/jpeg", sha256: hex(digest), data: base64(new Uint8Array(buffer)) };
      });
    });
  }

  /* ---- the form ------------------------------------------------------------------------- */

  function field(form, labelText, input) {
    var row = el("label", "ly-form-row");
    row.appendChild(el("span", "ly-form-label", labelText));
    row.appendChild(input);
    form.appendChild(row);
    return input;
  }

  function select(name, options) {
    var input = el("select");
    input.name = name;
    options.forEach(function (o) {
      var option = el("option", null, o[1]);
      option.value = o[0];
      input.appendChild(option);
    });
    return input;
  }

  function textInput(name, multiline) {
    var input = el(multiline ? "textarea" : "input");
    input.name = name;
    return input;
  }

  function yesNo(name) {
    return select(name, [["", "—"], ["true", UI.yes], ["false", UI.no]]);
  }

  function hotspotInputs(form, inputs) {
    inputs.is_fire = field(form, UI.is_fire, yesNo("is_fire"));
    inputs.is_fire.required = true;
    inputs.fire_type = field(form, UI.fire_type,
      select("fire_type", [["", "—"]].concat(DATA.fire_types)));
    inputs.extinguished = field(form, UI.extinguished, yesNo("extinguished"));
    var area = el("input");
    area.type = "number"; area.name = "burned_area_est_ha"; area.min = "0"; area.step = "any";
    area.inputMode = "decimal";
    inputs.burned_area_est_ha = field(form, UI.burned_area_est_ha, area);
  }

  /* A hotspot verdict: the fire type and whether it is out are asked only of a fire; a
     non-fire may still name its source (an industrial heat source). */
  function hotspotValues(inputs, note) {
    var fire = inputs.is_fire.value, kind = inputs.fire_type.value;
    var out = inputs.extinguished.value, area = inputs.burned_area_est_ha.value.trim();
    if (fire === "") { return UI.is_fire; }
    if (fire === "true" && kind === "") { return UI.fire_type; }
    if (fire === "true" && out === "") { return UI.extinguished; }
    var hectares = area === "" ? null : Number(area);
    if (hectares !== null && !(isFinite(hectares) && hectares >= 0)) {
      return UI.burned_area_est_ha;
    }
    return {
      is_fire: fire === "true",
      fire_type: kind === "" ? null : kind,
      extinguished: fire === "true" ? out === "true" : null,
      burned_area_est_ha: fire === "true" ? hectares : null,
      note: note
    };
  }

  function verdictInputs(def, form) {
    var inputs = {};
    if (def.verify === "hotspot") {
      hotspotInputs(form, inputs);
    } else if (def.verify === "patch") {
      inputs.is_real_change = field(form, UI.is_real_change, yesNo("is_real_change"));
      inputs.is_real_change.required = true;
      inputs.verified_cause_code = field(form, UI.verified_cause_code,
        select("verified_cause_code", [["", "—"]].concat(DATA.causes)));
      inputs.permit_no = field(form, UI.permit_number, textInput("permit_no"));
    } else {
      inputs.outcome = field(form, UI.outcome, select("outcome", DATA.outcomes));
      var box = el("input");
      box.type = "checkbox"; box.name = "sample_taken";
      inputs.sample_taken = field(form, UI.sample_taken, box);
      inputs.sample_id = field(form, UI.sample_id, textInput("sample_id"));
    }
    inputs.note = field(form, UI.note, textInput("note", true));
    inputs.note.maxLength = 2000;
    return inputs;
  }

  /* Values as the export contract (docs/field-records.md) wants them; a string is a problem
     to show instead. */
  function verdictValues(def, inputs) {
    var note = inputs.note.value.trim() || null;
    if (def.verify === "hotspot") { return hotspotValues(inputs, note); }
    if (def.verify === "patch") {
      var real = inputs.is_real_change.value, code = inputs.verified_cause_code.value;
      if (real === "") { return UI.is_real_change; }
      if (real === "true" && code === "") { return UI.verified_cause_code; }
      return {
        is_real_change: real === "true",
        verified_cause_code: code === "" ? null : Number(code),
        permit_no: inputs.permit_no.value.trim() || null,
        note: note
      };
    }
    var taken = inputs.sample_taken.checked, sample = inputs.sample_id.value.trim();
    if (taken && !sample) { return UI.sample_id; }
    return {
      outcome: inputs.outcome.value, sample_taken: taken,
      sample_id: taken ? sample : null, note: note
    };
  }

  function buildRecord(def, f, values, inspector, fix, photos) {
    var id = def.id_field === null ? String(f) : String(def.rows[f][def.id_field]);
    var props = {
      schema_version: SCHEMA_VERSION, record_id: uuid4(), map_id: DATA.map_id,
      results_run_id: def.run_id, layer: def.name, feature_id: id,
      inspector: inspector, device_time: isoWithOffset(new Date()),
      gps_accuracy_m: fix ? fix.accuracy : null,
      gps: fix ? [fix.longitude, fix.latitude] : null, photos: photos
    };
    Object.keys(values).forEach(function (k) { props[k] = values[k]; });
    return props;
  }

  /* A half-filled form is kept (without photos) in localStorage until saved or cancelled, and
     reopened when the page is loaded again. */
  var DRAFT_KEY = null;

  function saveDraft(def, f, form) {
    var values = {};
    Array.prototype.forEach.call(form.elements, function (input) {
      if (!input.name || input.type === "file") { return; }
      values[input.name] = input.type === "checkbox" ? input.checked : input.value;
    });
    localStorage.setItem(DRAFT_KEY, JSON.stringify({ layer: def.name, f: f, values: values }));
  }

  function restoreDraft(form, values) {
    Array.prototype.forEach.call(form.elements, function (input) {
      if (!input.name || !Object.prototype.hasOwnProperty.call(values, input.name)) { return; }
      if (input.type === "checkbox") { input.checked = !!values[input.name]; }
      else { input.value = String(values[input.name]); }
    });
  }

  function reopenDraft() {
    var draft = null;
    try { draft = JSON.parse(localStorage.getItem(DRAFT_KEY) || "null"); } catch (e) { draft = null; }
    if (!draft) { return; }
    var def = LY.defs.filter(function (d) { return d.name === draft.layer && d.verify; })[0];
    if (def && draft.f >= 0 && draft.f < def.rows.length) { openForm(def, draft.f, draft.values); }
  }

  function closeForm() {
    localStorage.removeItem(DRAFT_KEY);
    var old = document.querySelector(".ly-form");
    if (old) { old.parentNode.removeChild(old); }
  }

  function openForm(def, f, draft) {
    closeForm();
    var form = el("form", "ly-form");
    var id = def.id_field === null ? String(f) : String(def.rows[f][def.id_field]);
    form.appendChild(el("div", "ly-form-title", def.label + " · " + id));
    var inputs = verdictInputs(def, form);
    var inspector = field(form, UI.inspector, textInput("inspector"));
    inspector.required = true;
    inspector.value = localStorage.getItem("linyuan-inspector") || "";
    var photos = el("input");
    photos.type = "file"; photos.accept = "image/*"; photos.multiple = true; photos.name = "photos";
    field(form, UI.photos, photos);
    var status = el("div", "ly-form-status");
    var save = el("button", "ly-form-save", UI.save);
    save.type = "submit";
    var cancel = el("button", "ly-form-cancel", UI.cancel);
    cancel.type = "button";
    cancel.addEventListener("click", closeForm);
    form.appendChild(status); form.appendChild(save); form.appendChild(cancel);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      save.disabled = true;
      status.textContent = UI.saving;
      submit(def, f, inputs, inspector.value.trim(), photos.files).then(function () {
        closeForm();
      }, function (error) {
        save.disabled = false;
        status.textContent = UI.save_failed + " " + error;
      });
    });
    if (draft) { restoreDraft(form, draft); }
    form.addEventListener("input", function () { saveDraft(def, f, form); });
    form.addEventListener("change", function () { saveDraft(def, f, form); });
    L.DomEvent.disableClickPropagation(form);
    document.body.appendChild(form);
  }

  function submit(def, f, inputs, inspector, files) {
    localStorage.setItem("linyuan-inspector", inspector);
    var values = verdictValues(def, inputs);
    if (typeof values === "string") { return Promise.reject(UI.missing + values); }
    if (!inspector) { return Promise.reject(UI.missing + UI.inspector); }
    if (files.length > MAX_PHOTOS) { return Promise.reject(UI.photos + " ≤ " + MAX_PHOTOS); }
    return Promise.all([currentFix(), Promise.all(Array.prototype.map.call(files, photoRecord))])
      .then(function (got) {
        return saveRecord(buildRecord(def, f, values, inspector, got[0], got[1]));
      })
      .then(refreshCount);
  }

  function verifyButton(def, f) {
    var button = el("button", "ly-verify", UI.verify);
    button.type = "button";
    button.addEventListener("click", function () { openForm(def, f); });
    return button;
  }

  /* ---- records: count, list, export ----------------------------------------------------- */

  function featureCollection(records) {
    return {
      type: "FeatureCollection",
      features: records.map(function (r) {
        var props = {};
        Object.keys(r).forEach(function (k) { if (k !== "gps") { props[k] = r[k]; } });
        return {
          type: "Feature",
          geometry: r.gps ? { type: "Point", coordinates: r.gps } : null,
          properties: props
        };
      })
    };
  }

  function exportRecords() {
    return listRecords().then(function (records) {
      var text = JSON.stringify(featureCollection(records));
      var blob = new Blob([text], { type: "application/geo+json" });
      var a = el("a");
      a.href = URL.createObjectURL(blob);
      a.download = DATA.map_id + "-records-" + isoWithOffset(new Date()).slice(0, 10) + ".geojson";
      document.body.appendChild(a);
      a.click();
      setTimeout(function () { URL.revokeObjectURL(a.href); a.parentNode.removeChild(a); }, 1000);
      return text;
    });
  }

  function copyRecords(status) {
    return listRecords().then(function (records) {
      var text = JSON.stringify(featureCollection(records));
      var area = el("textarea", "ly-copy");
      area.value = text;
      document.body.appendChild(area);
      area.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      if (!ok && navigator.clipboard) { navigator.clipboard.writeText(text); }
      status.textContent = UI.copied;
      area.parentNode.removeChild(area);
    });
  }

  function showList(panel) {
    listRecords().then(function (records) {
      var list = el("div", "ly-records-list");
      records.forEach(function (r) {
        var verdict = r.outcome || r.fire_type ||
          (r.is_fire !== undefined ? String(r.is_fire) :
            (r.is_real_change === null ? "—" : String(r.is_real_change)));
        list.appendChild(el("div", "ly-record",
          r.layer + " · " + r.feature_id + " · " + verdict + " · " + r.device_time));
      });
      var old = panel.querySelector(".ly-records-list");
      if (old) { panel.replaceChild(list, old); } else { panel.appendChild(list); }
    });
  }

  function refreshCount() {
    return listRecords().then(function (records) {
      if (counter) { counter.textContent = UI.records + " (" + records.length + ")"; }
      window.__recordCount = records.length;
      return records.length;
    });
  }

  function recordsControl() {
    var control = L.control({ position: "bottomleft" });
    control.onAdd = function () {
      var panel = el("div", "ly-records leaflet-bar");
      counter = el("button", "ly-records-toggle", UI.records);
      counter.type = "button";
      var tools = el("div", "ly-records-tools");
      var exporter = el("button", "ly-export", UI.export);
      var copier = el("button", "ly-copy-button", UI.copy);
      var status = el("div", "ly-records-status");
      exporter.type = copier.type = "button";
      exporter.addEventListener("click", function () { exportRecords(); });
      copier.addEventListener("click", function () { copyRecords(status); });
      counter.addEventListener("click", function () {
        panel.classList.toggle("ly-open");
        if (panel.classList.contains("ly-open")) { showList(panel); }
      });
      tools.appendChild(exporter); tools.appendChild(copier); tools.appendChild(status);
      panel.appendChild(counter); panel.appendChild(tools);
      L.DomEvent.disableClickPropagation(panel);
      return panel;
    };
    return control;
  }

  /* The VerificationForm element: config = {map_id, ui, causes, outcomes, fire_types}. */
  LY.verification = function (map, config) {
    DATA = config;
    UI = config.ui;
    DRAFT_KEY = "linyuan-draft:" + DATA.map_id;
    LY.verifyButton = verifyButton;
    if (!LY.defs.some(function (d) { return d.verify; })) { return null; }
    var control = recordsControl().addTo(map);
    refreshCount();
    reopenDraft();
    return control;
  };
})();
