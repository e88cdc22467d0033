// Portcullis dashboard: the little the server-rendered pages need.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  // Score meters: their width from data-score (no inline styles: CSP).
  document.querySelectorAll(".meter > span[data-score]").forEach(function (el) {
    var s = parseFloat(el.getAttribute("data-score"));
    if (!isNaN(s)) {
      el.style.width = Math.max(0, Math.min(100, s)) + "%";
      el.className = s >= 90 ? "good" : s >= 70 ? "fair" : "poor";
    }
  });
  // Filters that apply when changed.
  document.querySelectorAll("[data-autosubmit]").forEach(function (el) {
    el.addEventListener("change", function () { if (el.form) { el.form.submit(); } });
  });
  // Chart: the hovered day in the caption.
  document.querySelectorAll("figure.chart").forEach(function (fig) {
    var tip = fig.querySelector(".tip");
    fig.querySelectorAll("circle.point").forEach(function (pt) {
      pt.addEventListener("mouseenter", function () {
        tip.textContent = pt.getAttribute("data-day") + ": score " + pt.getAttribute("data-score") + "%, " +
          pt.getAttribute("data-violations") + " violations";
      });
    });
  });
});
