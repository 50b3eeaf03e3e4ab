// Upload page: drag and drop, then each file is posted to the REST API on its own, with a
// progress bar and its errors in words; when every file is in, on to the results. Without
// JavaScript the form posts to the page itself.
(function () {
  "use strict";

  function messagesOf(xhr) {
    try {
      var body = JSON.parse(xhr.responseText);
      if (body.detail) { return String(body.detail); }
      return Object.keys(body).map(function (field) {
        var value = body[field];
        return Array.isArray(value) ? value.join(" ") : String(value);
      }).join(" ");
    } catch (e) {
      return xhr.status === 413 ? "The file is too large." : "The server answered " + xhr.status + ".";
    }
  }

  function fileRow(list, file) {
    var item = document.createElement("li");
    item.className = "file-row";
    var name = document.createElement("span");
    name.className = "file-name";
    name.textContent = file.name;
    var bar = document.createElement("progress");
    bar.max = 100;
    bar.value = 0;
    bar.setAttribute("aria-label", "Upload progress of " + file.name);
    var state = document.createElement("span");
    state.className = "file-state";
    state.textContent = "waiting";
    item.append(name, bar, state);
    list.appendChild(item);
    return { item: item, bar: bar, state: state };
  }

  // One key per press of the button: the server groups the files into one upload batch and
  // notifies once when all of them are finished (notifications.batches).
  var ZERO_KEY = "00000000-0000-0000-0000-000000000000";

  function batchKey() {
    if (window.crypto && window.crypto.randomUUID) { return window.crypto.randomUUID(); }
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) { return (b + 0x100).toString(16).slice(1); }).join("");
    return hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" + hex.slice(16, 20) + "-" + hex.slice(20);
  }

  // Every file is sent: the batch is complete. If this request is lost the server closes the
  // batch itself after a while, so the notification is late, never missing.
  function closeBatch(form, key) {
    return new Promise(function (resolve) {
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.dataset.apiBatchClose.replace(ZERO_KEY, key));
      xhr.setRequestHeader("X-CSRFToken", form.querySelector("input[name=csrfmiddlewaretoken]").value);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.addEventListener("loadend", function () { resolve(); });
      xhr.send();
    });
  }

  function send(form, file, row, key) {
    return new Promise(function (resolve) {
      var data = new FormData();
      data.append("image", file, file.name);
      data.append("batch", key);
      var model = form.querySelector("input[name=model]:checked");
      if (model) { data.append("model", model.value); }
      var date = form.querySelector("input[name=acquisition_date]").value;
      if (date) { data.append("acquisition_date", date); }
      if (form.querySelector("input[name=identifiers_differ_ok]:checked")) { data.append("identifiers_differ_ok", "true"); }
      var patient = form.querySelector("select[name=patient]").value;
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.dataset.apiPatients + encodeURIComponent(patient) + "/scans/");
      xhr.setRequestHeader("X-CSRFToken", form.querySelector("input[name=csrfmiddlewaretoken]").value);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.addEventListener("progress", function (event) {
        if (event.lengthComputable) { row.bar.value = Math.round((100 * event.loaded) / event.total); }
        row.state.textContent = "uploading";
      });
      xhr.addEventListener("load", function () {
        if (xhr.status === 201 || xhr.status === 202) {
          var body = JSON.parse(xhr.responseText);
          row.bar.value = 100;
          row.item.classList.add("file-ok");
          if (body.scans) {
            // A DICOM series, multi-frame file or zip: one exam, several slices.
            row.state.textContent = "uploaded: " + body.scans.length + " slices queued";
            if (body.skipped && body.skipped.length) { row.state.textContent += " (" + body.skipped.length + " file(s) skipped)"; }
            // A study of several series goes to the case history, one series to its exam.
            resolve({ ok: true, id: body.scans[0].id, series: true, exam: body.exams.length === 1 ? body.exam : null });
          } else {
            row.state.textContent = "uploaded: scan " + body.id + " queued";
            if (body.duplicate_of) {
              // Kept, but said: the same bytes were uploaded before for this patient.
              row.state.textContent += " — the same image was uploaded before as scan " + body.duplicate_of.id + "; both are kept";
              row.item.classList.add("file-repeat");
            }
            resolve({ ok: true, id: body.id, exam: body.exam || null, repeat: Boolean(body.duplicate_of) });
          }
        } else {
          row.state.textContent = "not uploaded: " + messagesOf(xhr);
          row.item.classList.add("file-error");
          resolve({ ok: false });
        }
      });
      xhr.addEventListener("error", function () {
        row.state.textContent = "not uploaded: the connection failed.";
        row.item.classList.add("file-error");
        resolve({ ok: false });
      });
      xhr.send(data);
    });
  }

  function setUp(form) {
    var input = form.querySelector("input[type=file]");
    var zone = document.getElementById("dropzone");
    var list = document.getElementById("file-list");
    var summary = document.getElementById("upload-summary");
    var button = document.getElementById("upload-button");
    var dropped = null;

    function chosen() { return dropped || Array.prototype.slice.call(input.files); }

    function showChosen() {
      list.textContent = "";
      chosen().forEach(function (file) { fileRow(list, file); });
    }

    ["dragenter", "dragover"].forEach(function (type) {
      zone.addEventListener(type, function (event) { event.preventDefault(); zone.classList.add("dragging"); });
    });
    ["dragleave", "drop"].forEach(function (type) {
      zone.addEventListener(type, function () { zone.classList.remove("dragging"); });
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      dropped = Array.prototype.slice.call(event.dataTransfer.files);
      showChosen();
    });
    input.addEventListener("change", function () { dropped = null; showChosen(); });

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var files = chosen();
      if (!files.length) { summary.textContent = "Choose at least one image."; return; }
      if (!form.querySelector("select[name=patient]").value) { summary.textContent = "Choose a patient."; return; }
      button.disabled = true;
      list.textContent = "";
      var rows = files.map(function (file) { return fileRow(list, file); });
      summary.textContent = "Uploading " + files.length + " file(s)…";
      // One at a time: the bars fill in order and the server sees one upload per user.
      var results = [];
      var key = batchKey();
      files.reduce(function (previous, file, i) {
        return previous.then(function () {
          return send(form, file, rows[i], key).then(function (result) { results.push(result); });
        });
      }, Promise.resolve())
        .then(function () { return results.some(function (r) { return r.ok; }) ? closeBatch(form, key) : null; })
        .then(function () { finish(form, results, summary, button); });
    });
  }

  function finish(form, results, summary, button) {
    var done = results.filter(function (r) { return r.ok; });
    var failed = results.length - done.length;
    button.disabled = false;
    // DICOM files of one series, sent one by one or zipped, open their exam.
    var exam = done.length && done.every(function (r) { return r.exam && r.exam === done[0].exam; }) ? done[0].exam : null;
    if (!failed && exam && (done.length > 1 || done[0].series)) {
      window.location.assign(form.dataset.examPage.replace("/0/", "/" + exam + "/"));
    } else if (!failed && done.length === 1 && !done[0].series) {
      // Its page says which earlier scan it repeats, if any.
      window.location.assign(form.dataset.scanPages + done[0].id + "/");
    } else if (!failed && !done.some(function (r) { return r.repeat; })) {
      var patient = form.querySelector("select[name=patient]").value;
      window.location.assign(form.dataset.patientPages + encodeURIComponent(patient) + "/");
    } else {
      // A failure or a repeated image: stay, so the reason beside each file can be read.
      summary.textContent = failed
        ? done.length + " uploaded, " + failed + " not uploaded: see the reason beside each file."
        : done.length + " uploaded; some repeat an image uploaded before: see beside each file.";
      done.forEach(function (r) {
        var link = document.createElement("a");
        link.href = form.dataset.scanPages + r.id + "/";
        link.textContent = " Open scan " + r.id;
        summary.appendChild(link);
      });
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("upload-form");
    if (form) { setUp(form); }
  });
})();
