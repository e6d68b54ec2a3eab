/* Credit applications: the calculation step of the wizard (finance/credit/_calculation.html).
   Loaded with `defer`; the CSP allows only same-origin scripts, so behaviour is attached
   through data-* attributes.

   The down payment is typed in roubles or in percent of the order amount (the radio
   "down_payment_mode" says which counts); the other field follows as the user types, and
   only the one that counts can be edited. The server derives the same (and is the one
   that decides): without this file the form still works. */
(function () {
  "use strict";

  function parse(text) {
    var clean = String(text || "").replace(/[\s\u00a0\u202f]/g, "").replace(",", ".");
    if (clean === "" || !/^-?\d*(\.\d*)?$/.test(clean)) {
      return null;
    }
    var value = Number(clean);
    return isFinite(value) ? value : null;
  }

  function format(value) {
    // Two decimals, trailing zeros dropped, a comma in Russian.
    var text = (Math.round(value * 100) / 100).toFixed(2).replace(/\.?0+$/, "");
    var lang = (document.documentElement.getAttribute("lang") || "").toLowerCase();
    return lang.indexOf("ru") === 0 ? text.replace(".", ",") : text;
  }

  function parts(form) {
    return {
      rub: form.querySelector("[data-credit-down-rub]"),
      percent: form.querySelector("[data-credit-down-percent]"),
      amount: form.querySelector("[data-credit-order-amount]"),
      mode: form.querySelector("[data-credit-mode]:checked")
    };
  }

  function byRoubles(p) {
    return p.mode !== null && p.mode.value === "rub";
  }

  // Only the field that counts can be typed in; the other shows the derived value.
  function applyMode(form) {
    var p = parts(form);
    if (!p.rub || !p.percent) {
      return;
    }
    var rub = byRoubles(p);
    p.rub.readOnly = !rub;
    p.percent.readOnly = rub;
    p.rub.classList.toggle("bg-body-tertiary", !rub);
    p.percent.classList.toggle("bg-body-tertiary", rub);
  }

  function derive(form, source) {
    var p = parts(form);
    if (!p.rub || !p.percent || !p.amount) {
      return;
    }
    var amount = parse(p.amount.value);
    if (amount === null || amount <= 0) {
      return;
    }
    var rub = byRoubles(p);
    if (rub && (source === p.rub || source === p.amount)) {
      var roubles = parse(p.rub.value);
      if (roubles !== null) {
        p.percent.value = format((roubles * 100) / amount);
      }
    } else if (!rub && (source === p.percent || source === p.amount)) {
      var percent = parse(p.percent.value);
      if (percent !== null) {
        p.rub.value = format((amount * percent) / 100);
      }
    }
  }

  function calculationForm(element) {
    return element instanceof Element ? element.closest("#credit-calculation-form") : null;
  }

  // Registered on the document in the capture phase: the derived value is in place before
  // htmx (listening on the form) reads the fields for the live recalculation.
  document.addEventListener(
    "input",
    function (event) {
      var form = calculationForm(event.target);
      if (form) {
        derive(form, event.target);
      }
    },
    true
  );

  document.addEventListener(
    "change",
    function (event) {
      var form = calculationForm(event.target);
      if (form && event.target.matches("[data-credit-mode]")) {
        applyMode(form);
      }
    },
    true
  );

  function init() {
    var form = document.getElementById("credit-calculation-form");
    if (form) {
      applyMode(form);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
