/* Heshun leopard watch tip line, for cheap phones on one bar of signal. Plain ES5 (old Android
   browsers, in-app browsers); every part checks for what it needs and the form still works
   without this file as a plain form post.
   - the browser's location, on request;
   - photos read for their GPS position and time (offered, never applied), then shrunk to at
     most 2048 px, JPEG 0.85, before sending (a 4 MB phone photo becomes a few hundred kB);
   - sending with progress in words and a busy button;
   - the form kept in this tab as the person types (a reload or Back keeps it);
   - no signal: the report is kept on the phone (IndexedDB) and sent when signal returns. */
(function () {
  "use strict";
  var MAX_SIDE = 2048;
  var QUALITY = 0.85;
  var RETRY_MS = 5000;
  var DB_NAME = "leopard-watch";
  var STORE = "outbox";
  var form = document.getElementById("report");

  function text(node, key, params) {
    var value = (node && node.getAttribute("data-t-" + key)) || "";
    for (var name in params || {}) {
      if (Object.prototype.hasOwnProperty.call(params, name)) {
        value = value.split("{" + name + "}").join(String(params[name]));
      }
    }
    return value;
  }

  /* ---- the browser's location -------------------------------------------------------------- */

  function setPoint(lat, lon, accuracy, source) {
    form.elements.latitude.value = lat.toFixed(6);
    form.elements.longitude.value = lon.toFixed(6);
    form.elements.accuracy.value = accuracy ? Math.round(accuracy) : "";
    form.elements.source.value = source;
    document.getElementById("location").value = lat.toFixed(5) + ", " + lon.toFixed(5);
    saveDraft();
  }

  function setupLocation() {
    var button = document.getElementById("use-location");
    var typed = document.getElementById("location");
    var status = document.getElementById("location-status");
    if (!typed) { return; }
    /* Typing a place replaces the browser's (or a photo's) point. */
    typed.addEventListener("input", function () {
      form.elements.latitude.value = ""; form.elements.longitude.value = "";
      form.elements.accuracy.value = ""; form.elements.source.value = "";
    });
    if (!button || !navigator.geolocation) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      status.textContent = button.getAttribute("data-locating");
      navigator.geolocation.getCurrentPosition(function (position) {
        var c = position.coords;
        setPoint(c.latitude, c.longitude, c.accuracy, "browser");
        status.textContent = "±" + Math.round(c.accuracy || 0) + " m";
      }, function () {
        status.textContent = button.getAttribute("data-failed");
      }, { enableHighAccuracy: true, timeout: 20000, maximumAge: 60000 });
    });
  }

  /* ---- without GPS: the village list and the county map ---------------------------------- */

  function fold(value) {
    /* As the server's normalize_name: no case, no tone marks, no spaces or punctuation. */
    value = String(value || "").toLowerCase();
    if (value.normalize) { value = value.normalize("NFD").replace(/[\u0300-\u036f]/g, ""); }
    return value.replace(/[\s'’·.,-]/g, "");
  }

  function setupVillages() {
    var select = document.getElementById("village");
    var filter = document.getElementById("village-filter");
    if (!select || !filter) { return; }
    filter.hidden = false;
    var options = Array.prototype.slice.call(select.options, 1);
    filter.addEventListener("input", function () {
      var query = fold(filter.value), shown = [];
      options.forEach(function (option) {
        var keys = (option.getAttribute("data-keys") || "") + " " + fold(option.textContent);
        var match = !query || keys.indexOf(query) >= 0;
        option.hidden = !match;
        option.disabled = !match; /* browsers that show hidden options still cannot pick these */
        if (match) { shown.push(option); }
      });
      select.size = query ? Math.max(2, Math.min(8, shown.length + 1)) : 0;
      if (query && shown.length === 1) { select.value = shown[0].value; saveDraft(); }
    });
    select.addEventListener("change", function () {
      /* A chosen village replaces a point and typed text: what the report will carry is shown. */
      if (!select.value) { return; }
      form.elements.latitude.value = ""; form.elements.longitude.value = "";
      form.elements.accuracy.value = ""; form.elements.source.value = "";
      document.getElementById("location").value = "";
    });
  }

  function setupMap() {
    var map = document.getElementById("county-map");
    var marker = document.getElementById("map-marker");
    var status = document.getElementById("map-status");
    if (!map) { return; }
    function number(name) { return parseFloat(map.getAttribute("data-" + name)); }
    map.addEventListener("click", function (event) {
      var box = map.getBoundingClientRect();
      if (!box.width || event.detail === 0) { return; } /* a keyboard "click": let the form post it */
      event.preventDefault();
      var x = event.clientX - box.left, y = event.clientY - box.top;
      var units = number("view") / box.width;
      var lat = number("north") - y * units / number("scale");
      var lon = number("west") + x * units / (number("scale") * number("cos"));
      /* The uncertainty is set for the map as the plain form shows it; a wider map is no worse. */
      var accuracy = number("accuracy");
      setPoint(lat, lon, accuracy, "map");
      var select = document.getElementById("village");
      if (select) { select.value = ""; }
      marker.style.left = x + "px"; marker.style.top = y + "px"; marker.hidden = false;
      status.textContent = text(map, "chosen", {
        place: lat.toFixed(5) + ", " + lon.toFixed(5), km: String(Math.round(accuracy / 100) / 10)
      });
    });
  }

  /* ---- EXIF: GPS position and time of a JPEG ----------------------------------------------- */

  function readExif(buffer) {
    var view = new DataView(buffer);
    if (view.byteLength < 4 || view.getUint16(0) !== 0xFFD8) { return null; }
    var offset = 2;
    while (offset + 4 <= view.byteLength) {
      var marker = view.getUint16(offset);
      var size = view.getUint16(offset + 2);
      if (marker === 0xFFE1 && view.getUint32(offset + 4) === 0x45786966) { return tiff(view, offset + 10); }
      if ((marker & 0xFF00) !== 0xFF00 || marker === 0xFFDA) { return null; }
      offset += 2 + size;
    }
    return null;
  }

  function tiff(view, start) {
    if (start + 8 > view.byteLength) { return null; }
    var little = view.getUint16(start) === 0x4949;
    function u16(at) { return view.getUint16(start + at, little); }
    function u32(at) { return view.getUint32(start + at, little); }
    function entries(at) {
      var found = {};
      if (at <= 0 || start + at + 2 > view.byteLength) { return found; }
      var count = u16(at);
      for (var i = 0; i < count; i++) {
        var e = at + 2 + i * 12;
        if (start + e + 12 > view.byteLength) { break; }
        found[u16(e)] = { type: u16(e + 2), count: u32(e + 4), at: e + 8 };
      }
      return found;
    }
    function rationals(entry) {
      var at = u32(entry.at), values = [];
      for (var i = 0; i < entry.count; i++) {
        if (start + at + i * 8 + 8 > view.byteLength) { return null; }
        var den = u32(at + i * 8 + 4);
        values.push(den ? u32(at + i * 8) / den : 0);
      }
      return values;
    }
    function ascii(entry) {
      var at = entry.count > 4 ? u32(entry.at) : entry.at, chars = "";
      for (var i = 0; i < entry.count - 1 && start + at + i < view.byteLength; i++) {
        chars += String.fromCharCode(view.getUint8(start + at + i));
      }
      return chars;
    }
    var result = {};
    var ifd0 = entries(u32(4));
    if (ifd0[0x8769]) {
      var exif = entries(u32(ifd0[0x8769].at));
      var stamp = exif[0x9003] || exif[0x9004];
      var m = stamp && /^(\d{4}):(\d\d):(\d\d) (\d\d):(\d\d)/.exec(ascii(stamp));
      if (m) { result.time = m[1] + "-" + m[2] + "-" + m[3] + "T" + m[4] + ":" + m[5]; }
    }
    if (ifd0[0x8825]) {
      var gps = entries(u32(ifd0[0x8825].at));
      if (gps[2] && gps[4] && gps[1] && gps[3]) {
        var lat = rationals(gps[2]), lon = rationals(gps[4]);
        if (lat && lon && lat.length === 3 && lon.length === 3) {
          var la = lat[0] + lat[1] / 60 + lat[2] / 3600, lo = lon[0] + lon[1] / 60 + lon[2] / 3600;
          if (ascii({ count: 2, at: gps[1].at }) === "S") { la = -la; }
          if (ascii({ count: 2, at: gps[3].at }) === "W") { lo = -lo; }
          if (la || lo) { result.lat = la; result.lon = lo; }
          var error = gps[0x1F] && rationals(gps[0x1F]);
          if (error && error[0]) { result.accuracy = error[0]; }
        }
      }
    }
    return result;
  }

  function readHead(file) {
    return new Promise(function (resolve) {
      var reader = new FileReader();
      reader.onload = function () { resolve(reader.result); };
      reader.onerror = function () { resolve(null); };
      reader.readAsArrayBuffer(file.slice(0, 256 * 1024));
    });
  }

  /* ---- shrinking ------------------------------------------------------------------------- */

  function shrink(file) {
    return new Promise(function (resolve) {
      if (!window.URL || !URL.createObjectURL || !/^image\/(jpeg|png|webp)$/.test(file.type)) {
        resolve(file); /* HEIC and the like: the server converts them */
        return;
      }
      var url = URL.createObjectURL(file);
      var img = new Image();
      img.onload = function () {
        var w = img.naturalWidth, h = img.naturalHeight;
        var scale = Math.min(1, MAX_SIDE / Math.max(w, h));
        if (scale === 1 && file.size < 1024 * 1024) { URL.revokeObjectURL(url); resolve(file); return; }
        var canvas = document.createElement("canvas");
        canvas.width = Math.round(w * scale); canvas.height = Math.round(h * scale);
        var context = canvas.getContext("2d");
        /* A smooth downscale averages the sensor noise away: a smaller JPEG, not only a sharper one. */
        context.imageSmoothingEnabled = true;
        context.imageSmoothingQuality = "high";
        context.drawImage(img, 0, 0, canvas.width, canvas.height);
        URL.revokeObjectURL(url);
        if (!canvas.toBlob) { resolve(file); return; }
        canvas.toBlob(function (blob) {
          resolve(blob && blob.size < file.size ? blob : file);
        }, "image/jpeg", QUALITY);
      };
      img.onerror = function () { URL.revokeObjectURL(url); resolve(file); };
      img.src = url;
    });
  }

  /* ---- photos: offered place and time, prepared copies ------------------------------------ */

  var prepared = null; /* a Promise of [{blob, name}] for the chosen files */

  function offer(label, use) {
    var box = document.getElementById("photo-offers");
    if (!box) { return; }
    var button = document.createElement("button");
    button.type = "button";
    button.className = "secondary offer";
    button.textContent = label;
    button.addEventListener("click", function () { use(); button.parentNode.removeChild(button); });
    box.appendChild(button);
  }

  function setupPhotos() {
    var input = form.querySelector("input[type=file][name=photo]");
    if (!input || !window.Promise || !window.FileReader) { return; }
    var box = document.createElement("div");
    box.id = "photo-offers";
    input.parentNode.insertBefore(box, input.nextSibling);
    var progress = document.getElementById("progress");
    input.addEventListener("change", function () { prepared = prepare(input, box, progress); });
    /* A browser that restored the chosen files on Back fires no change: prepare them at once. */
    if (input.files && input.files.length) { prepared = prepare(input, box, progress); }
  }

  function prepare(input, box, progress) {
    if (box) { box.innerHTML = ""; }
    form.removeAttribute("data-prepared");
    var files = Array.prototype.slice.call(input.files || []);
    var offeredPlace = false, offeredTime = false;
    var done = 0;
    return Promise.all(files.map(function (file) {
      return readHead(file).then(function (head) {
        var exif = head ? readExif(head) : null;
        if (exif && exif.lat !== undefined && !offeredPlace) {
          offeredPlace = true;
          var place = exif.lat.toFixed(5) + ", " + exif.lon.toFixed(5);
          offer(text(form, "photo-place", { place: place }), function () {
            setPoint(exif.lat, exif.lon, exif.accuracy, "exif");
          });
        }
        if (exif && exif.time && !offeredTime) {
          offeredTime = true;
          offer(text(form, "photo-time", { time: exif.time.replace("T", " ") }), function () {
            form.elements.when.value = exif.time;
            saveDraft();
          });
        }
        return shrink(file);
      }).then(function (blob) {
        done += 1;
        if (progress) {
          progress.textContent = done < files.length ? text(form, "preparing", { i: done + 1, n: files.length }) : "";
        }
        var name = blob === file ? file.name : (file.name || "photo").replace(/\.[^.]*$/, "") + ".jpg";
        return { blob: blob, name: name };
      });
    })).then(function (photos) {
      form.setAttribute("data-prepared", photos.map(function (p) { return p.blob.size; }).join(" "));
      return photos;
    });
  }

  /* ---- the draft, kept in this tab ------------------------------------------------------- */

  var draftKey = form ? "lw-draft:" + form.getAttribute("data-kind") : "";

  function fields() {
    var list = [];
    for (var i = 0; i < form.elements.length; i++) {
      var el = form.elements[i];
      if (!el.name || el.disabled || el.type === "file" || el.type === "submit" || el.type === "button") { continue; }
      if ((el.type === "radio" || el.type === "checkbox") && !el.checked) { continue; }
      list.push([el.name, el.value]);
    }
    return list;
  }

  function saveDraft() {
    if (!form || !window.sessionStorage) { return; }
    try {
      sessionStorage.setItem(draftKey, JSON.stringify({ saved: Date.now(), fields: fields() }));
    } catch (e) { /* storage full or refused: typing still works */ }
  }

  function restoreDraft() {
    if (!form.hasAttribute("data-fresh") || !window.sessionStorage) { return; }
    var saved;
    try { saved = JSON.parse(sessionStorage.getItem(draftKey) || "null"); } catch (e) { saved = null; }
    if (!saved || Date.now() - saved.saved > 24 * 3600 * 1000) { return; }
    var values = {};
    saved.fields.forEach(function (pair) {
      if (pair[0] !== "csrf") { values[pair[0]] = pair[1]; } /* the page's own token is the good one */
    });
    for (var i = 0; i < form.elements.length; i++) {
      var el = form.elements[i];
      if (!el.name || el.type === "file" || !Object.prototype.hasOwnProperty.call(values, el.name)) { continue; }
      if (el.type === "radio" || el.type === "checkbox") { el.checked = values[el.name] === el.value; }
      else { el.value = values[el.name]; }
    }
  }

  function forgetDraft() {
    try { sessionStorage.removeItem(draftKey); } catch (e) { /* nothing kept */ }
  }

  /* ---- the outbox on the phone (IndexedDB) ------------------------------------------------ */

  function openDb() {
    return new Promise(function (resolve, reject) {
      if (!window.indexedDB) { reject(new Error("no IndexedDB")); return; }
      var request = indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = function () { request.result.createObjectStore(STORE, { autoIncrement: true }); };
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }

  function withStore(mode, act) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(STORE, mode);
        var result = act(tx.objectStore(STORE));
        tx.oncomplete = function () { db.close(); resolve(result && result.result); };
        tx.onerror = function () { db.close(); reject(tx.error); };
      });
    });
  }

  function queued() {
    return openDb().then(function (db) {
      return new Promise(function (resolve) {
        var items = [];
        var cursor = db.transaction(STORE, "readonly").objectStore(STORE).openCursor();
        cursor.onsuccess = function () {
          var c = cursor.result;
          if (c) { items.push({ key: c.key, value: c.value }); c["continue"](); }
          else { db.close(); resolve(items); }
        };
        cursor.onerror = function () { db.close(); resolve(items); };
      });
    });
  }

  /* ---- sending -------------------------------------------------------------------------- */

  function body(item, csrf) {
    var data = new FormData();
    item.fields.forEach(function (pair) { data.append(pair[0], pair[0] === "csrf" && csrf ? csrf : pair[1]); });
    item.photos.forEach(function (photo) { data.append("photo", photo.blob, photo.name); });
    return data;
  }

  /* One POST; resolves {status, url, html, code}; status 0 means no connection. A stored report
     answers with its code and status page address (JSON), no redirect to follow. */
  function post(item, csrf, onProgress) {
    return new Promise(function (resolve) {
      var xhr = new XMLHttpRequest();
      xhr.open("POST", item.action);
      xhr.setRequestHeader("X-Tipline-Script", "1");
      if (xhr.upload && onProgress) {
        xhr.upload.onprogress = function (event) { if (event.lengthComputable) { onProgress(event.loaded, event.total); } };
      }
      xhr.onload = function () {
        var answer = { status: xhr.status, url: xhr.responseURL || "", html: xhr.responseText, code: "" };
        if (/json/.test(xhr.getResponseHeader("Content-Type") || "")) {
          try {
            var data = JSON.parse(xhr.responseText);
            var anchor = document.createElement("a");
            anchor.href = data.link; /* made absolute by the browser, also where URL() is missing */
            answer.url = anchor.href;
            answer.code = data.code;
            answer.html = "";
          } catch (e) { /* not ours: treated as any other answer */ }
        }
        resolve(answer);
      };
      xhr.onerror = xhr.ontimeout = xhr.onabort = function () { resolve({ status: 0, url: "", html: "" }); };
      xhr.send(body(item, csrf));
    });
  }

  function statusLink(url) {
    return url.indexOf("/r/") >= 0 ? url : "";
  }

  /* A 403 after a long wait means the form's token expired with the browser's session: take a
     fresh one from the form page and send once more. */
  function postFresh(item, onProgress) {
    return post(item, null, onProgress).then(function (answer) {
      if (answer.status !== 403) { return answer; }
      return new Promise(function (resolve) {
        var xhr = new XMLHttpRequest();
        xhr.open("GET", item.action);
        xhr.onload = function () {
          var m = /name="csrf" value="([^"]+)"/.exec(xhr.responseText);
          resolve(m ? post(item, m[1], onProgress) : answer);
        };
        xhr.onerror = function () { resolve({ status: 0, url: "", html: "" }); };
        xhr.send();
      });
    });
  }

  function showPage(html) {
    document.open();
    document.write(html);
    document.close();
  }

  function sentNotice(url, code) {
    code = code || (/\/r\/([^/]+)\//.exec(url) || [])[1] || "";
    var main = document.querySelector("main");
    var notice = document.createElement("p");
    notice.className = "notice ok sent-later";
    notice.setAttribute("role", "status");
    notice.appendChild(document.createTextNode("✅ " + text(document.body, "sent-later", {}) + " "));
    var link = document.createElement("a");
    link.href = url;
    link.className = "code";
    link.id = "sent-code";
    link.textContent = code;
    notice.appendChild(link);
    main.insertBefore(notice, main.firstChild);
  }

  var flushing = false;
  function flush() {
    if (flushing || navigator.onLine === false || !window.indexedDB || !window.Promise) { return; }
    flushing = true;
    queued().then(function (items) {
      return items.reduce(function (chain, entry) {
        return chain.then(function () {
          return postFresh(entry.value).then(function (answer) {
            var link = statusLink(answer.url);
            if (link) {
              sentNotice(link, answer.code);
              return withStore("readwrite", function (store) { return store["delete"](entry.key); });
            }
            if (answer.status === 422 || answer.status === 413) {
              /* It needs the person: show the form with what to fix (its photos are kept there). */
              return withStore("readwrite", function (store) { return store["delete"](entry.key); })
                .then(function () { showPage(answer.html); });
            }
            return null; /* no signal, busy or limited: try again later */
          });
        });
      }, Promise.resolve());
    })["catch"](function () { return null; }).then(function () { flushing = false; });
  }

  function keepOnPhone(item) {
    return withStore("readwrite", function (store) { return store.add(item); }).then(function () {
      forgetDraft();
      var main = document.querySelector("main");
      main.innerHTML = "";
      var saved = document.createElement("p");
      saved.className = "notice ok";
      saved.id = "saved-offline";
      saved.setAttribute("role", "status");
      saved.textContent = "✅ " + text(form, "saved-offline", {});
      var keep = document.createElement("p");
      keep.textContent = text(form, "keep-open", {});
      main.appendChild(saved);
      main.appendChild(keep);
    });
  }

  function setupSending() {
    var button = form.querySelector("button[type=submit]");
    var input = form.querySelector("input[type=file][name=photo]");
    var progress = document.getElementById("progress");
    var label = button.textContent;
    function busy(on) {
      button.disabled = on;
      button.classList.toggle("busy", on);
      button.setAttribute("aria-busy", on ? "true" : "false");
      button.textContent = on ? text(form, "sending-button", {}) : label;
    }
    if (!window.Promise || !window.FormData || !window.XMLHttpRequest) {
      /* Old browser: the plain post, sent once. */
      form.addEventListener("submit", function () { setTimeout(function () { button.disabled = true; }, 0); });
      return;
    }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (button.disabled) { return; }
      busy(true);
      (prepared || Promise.resolve([])).then(function (photos) {
        if (!photos.length && input && input.files && input.files.length) {
          return prepare(input, document.getElementById("photo-offers"), progress);
        }
        return photos;
      }).then(function (photos) {
        var item = { action: form.action, fields: fields(), photos: photos, saved: Date.now() };
        var sizes = photos.map(function (p) { return p.blob.size; });
        var total = sizes.reduce(function (a, b) { return a + b; }, 0);
        function onProgress(loaded, all) {
          var percent = Math.min(100, Math.round(loaded * 100 / all));
          if (!photos.length) { progress.textContent = text(form, "sending-form", { percent: percent }); return; }
          /* The photos come last in the body: which one is on its way, by bytes. */
          var before = all - total, i = 0, sum = before;
          while (i < sizes.length - 1 && loaded > sum + sizes[i]) { sum += sizes[i]; i += 1; }
          progress.textContent = text(form, "sending-photos", { i: i + 1, n: photos.length, percent: percent });
        }
        if (navigator.onLine === false) { return keepOnPhone(item); }
        return postFresh(item, onProgress).then(function (answer) {
          var link = statusLink(answer.url);
          if (link) { forgetDraft(); window.location.href = link; return null; }
          if (answer.status === 0) { return keepOnPhone(item); }
          if (answer.status >= 400 && answer.status < 500 && answer.html) { showPage(answer.html); return null; }
          busy(false);
          progress.textContent = text(form, "send-failed", {});
          return null;
        });
      })["catch"](function () {
        /* IndexedDB refused (private mode): the plain post is still there. */
        busy(false);
        form.submit();
      });
    });
  }

  /* ---- start ---------------------------------------------------------------------------- */

  if (form) {
    restoreDraft();
    form.addEventListener("input", saveDraft);
    form.addEventListener("change", saveDraft);
    setupLocation();
    setupVillages();
    setupMap();
    setupPhotos();
    setupSending();
  }
  /* Reports kept on this phone go out from any tip line page, as soon as there is signal. */
  window.addEventListener("online", flush);
  setInterval(flush, RETRY_MS);
  flush();
})();
