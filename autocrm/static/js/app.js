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

  // A refused htmx request (4xx/5xx) would otherwise leave the page silent: show the
  // server's reason — plain text, or the API's JSON {"detail"} — above the content.
  // Elements that handle their own errors set data-own-errors.
  function reasonOf(xhr) {
    var text = (xhr.responseText || "").trim();
    var type = xhr.getResponseHeader("Content-Type") || "";
    if (type.indexOf("application/json") === 0) {
      try {
        return JSON.parse(text).detail || "";
      } catch (error) {
        return "";
      }
    }
    if (type.indexOf("text/plain") === 0 && text.length < 500) {
      return text;
    }
    return "";
  }

  document.addEventListener("htmx:responseError", function (event) {
    var source = event.detail.elt;
    if (source instanceof Element && source.closest("[data-own-errors]")) {
      return;
    }
    var reason = reasonOf(event.detail.xhr) || document.documentElement.dataset.errorText || "";
    var container = document.getElementById("messages");
    var main = document.querySelector(".app-container");
    if (!reason || (!container && !main)) {
      return;
    }
    if (!container) {
      container = document.createElement("div");
      container.id = "messages";
      container.className = "app-messages";
      main.insertBefore(container, main.firstChild);
    }
    var alert = document.createElement("div");
    alert.className = "alert alert-danger alert-dismissible fade show";
    alert.setAttribute("role", "alert");
    alert.textContent = reason;
    var close = document.createElement("button");
    close.type = "button";
    close.className = "btn-close";
    close.setAttribute("data-bs-dismiss", "alert");
    close.setAttribute("aria-label", "×");
    alert.appendChild(close);
    container.appendChild(alert);
  });

  // A stage move answers at once, while the automation rules it fires run in a background
  // job and add their tasks about a second later: task panels refresh on "taskChanged"
  // and once more on "rulesSettled", two seconds after it.
  var settleTimer = null;
  document.addEventListener("taskChanged", function () {
    window.clearTimeout(settleTimer);
    settleTimer = window.setTimeout(function () {
      document.body.dispatchEvent(new CustomEvent("rulesSettled", { bubbles: true }));
    }, 2000);
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

/* Stock screens (inventory). */
(function () {
  "use strict";

  // htmx "settles" swapped elements by copying class and style attributes from the old
  // element with the same id. Copying a style attribute is an inline style, which the CSP
  // refuses (browsers and tools may leave an empty style="" on any element), so settle
  // classes only; inline styles are never ours to keep.
  if (window.htmx && window.htmx.config) {
    window.htmx.config.attributesToSettle = ["class", "width", "height"];
  }

  // Rows of the stock table open the vehicle card; the car's name is the real link, this
  // only widens the target. Clicks on links and controls inside the row keep their meaning.
  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!(target instanceof Element)) {
      return;
    }
    var row = target.closest("tr[data-href]");
    if (!row || target.closest("a, button, input, select, label")) {
      return;
    }
    if (window.getSelection && String(window.getSelection()).length > 0) {
      return; // the user is selecting a VIN to copy
    }
    window.location.assign(row.getAttribute("data-href"));
  });

  // Forms that must carry the search the user is looking at (save a preset, come back to
  // the same filters after deleting one) follow the URL htmx pushes on every refresh.
  document.addEventListener("htmx:pushedIntoHistory", function () {
    var query = window.location.search.replace(/^\?/, "");
    document.querySelectorAll("input[data-current-query]").forEach(function (input) {
      input.value = query;
    });
  });

  // <button data-print>: print the page (the PTS sheet has a print stylesheet).
  document.addEventListener("click", function (event) {
    var target = event.target;
    if (target instanceof Element && target.closest("[data-print]")) {
      window.print();
    }
  });
})();
