// LAPOR portal: small progressive enhancements. Every page works without this file.
"use strict";
(function () {
  document.documentElement.classList.add("has-js");

  // A form marked data-once is sent once: a double click does not send it twice.
  document.querySelectorAll("form[data-once]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (form.dataset.sent === "1") { event.preventDefault(); return; }
      form.dataset.sent = "1";
      form.querySelectorAll("button[type=submit]").forEach(function (b) {
        b.disabled = true; b.textContent = "Mengirim…";
      });
    });
  });

  // "Gunakan lokasi saya": fill latitude and longitude from the device.
  var button = document.getElementById("use-location");
  if (button && "geolocation" in navigator) {
    var status = document.getElementById("location-status");
    button.addEventListener("click", function () {
      status.textContent = "Mencari lokasi…";
      navigator.geolocation.getCurrentPosition(function (pos) {
        document.getElementById("lat").value = pos.coords.latitude.toFixed(5);
        document.getElementById("lon").value = pos.coords.longitude.toFixed(5);
        status.textContent = "Lokasi terisi.";
      }, function () {
        status.textContent = "Lokasi tidak dapat dibaca. Isi alamat secara manual.";
      }, { enableHighAccuracy: true, timeout: 10000 });
    });
  }

  // Focus the error summary so screen readers announce it.
  var errors = document.getElementById("kesalahan");
  if (errors) { errors.focus(); }
})();
