/* Heshun leopard watch tip line: the one thing a form cannot do alone, the browser's location.
   Plain ES5 for old Android browsers; the form works without it (type coordinates or a place). */
(function () {
  "use strict";
  var button = document.getElementById("use-location");
  var form = document.getElementById("report");
  if (!button || !form || !navigator.geolocation) { return; }
  var text = document.getElementById("location");
  var status = document.getElementById("location-status");
  var field = function (name) { return form.elements[name]; };
  button.hidden = false;
  button.addEventListener("click", function () {
    status.textContent = button.getAttribute("data-locating");
    navigator.geolocation.getCurrentPosition(function (position) {
      var c = position.coords;
      field("latitude").value = c.latitude.toFixed(6);
      field("longitude").value = c.longitude.toFixed(6);
      field("accuracy").value = Math.round(c.accuracy || 0);
      text.value = c.latitude.toFixed(5) + ", " + c.longitude.toFixed(5);
      status.textContent = "±" + Math.round(c.accuracy || 0) + " m";
    }, function () {
      status.textContent = button.getAttribute("data-failed");
    }, { enableHighAccuracy: true, timeout: 20000, maximumAge: 60000 });
  });
  /* Typing a place replaces the browser's fix. */
  text.addEventListener("input", function () {
    field("latitude").value = ""; field("longitude").value = ""; field("accuracy").value = "";
  });
  /* One tap sends once: a slow upload must not be sent twice. */
  form.addEventListener("submit", function () {
    var send = form.querySelector("button[type=submit]");
    setTimeout(function () { send.disabled = true; }, 0);
  });
})();
