/* AutoCRM client behaviour. Loaded with `defer`; the CSP allows only same-origin scripts,
   so all page behaviour lives here and is attached through data-* attributes. */
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  // Every htmx request that changes data must carry Django's CSRF token.
  document.addEventListener("htmx:configRequest", function (event) {
    var token = csrfToken();
    if (token) {
      event.detail.headers["X-CSRFToken"] = token;
    }
  });

  // <form data-autosubmit>: submit as soon as a field changes (the dealer-center switcher).
  // The submit button stays in the markup for keyboards and for when this file fails to load.
  function initAutosubmit(root) {
    root.querySelectorAll("form[data-autosubmit]").forEach(function (form) {
      if (form.dataset.autosubmitReady) {
        return;
      }
      form.dataset.autosubmitReady = "1";
      form.querySelectorAll("[data-autosubmit-button]").forEach(function (button) {
        button.classList.add("d-none");
      });
      form.addEventListener("change", function () {
        if (typeof form.requestSubmit === "function") {
          form.requestSubmit();
        } else {
          form.submit();
        }
      });
    });
  }

  // <form data-confirm="Question?">: ask before submitting.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form instanceof HTMLFormElement && form.dataset.confirm) {
      if (!window.confirm(form.dataset.confirm)) {
        event.preventDefault();
      }
    }
  });

  function init() {
    initAutosubmit(document);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
  // Content swapped in by htmx gets the same behaviour.
  document.addEventListener("htmx:load", function () {
    initAutosubmit(document);
  });
})();
