/* Deal pages: the Kanban board (drag a card to another stage) and the deal card.
   Loaded with `defer` after app.js (which adds the CSRF header to htmx requests); the CSP
   allows only same-origin scripts, so behaviour is attached through ids and data-*. */
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  // Forms marked data-swap-errors show the server's answer to a refused request (400,
  // 403, 409: the form with its error) instead of htmx's default of swapping nothing.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var elt = event.detail.elt;
    var status = event.detail.xhr.status;
    if (status >= 400 && status < 500 && elt instanceof Element && elt.closest("[data-swap-errors]")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // "3119900" -> "3 119 900 ₽", as the server's `rub` filter writes it.
  function roubles(amount) {
    var negative = amount < 0;
    var fixed = Math.abs(amount).toFixed(2).split(".");
    var whole = fixed[0].replace(/\B(?=(\d{3})+(?!\d))/g, " ");
    var text = whole + (fixed[1] !== "00" ? "," + fixed[1] : "");
    return (negative ? "−" : "") + text + " ₽";
  }

  function initBoard(board) {
    if (board.dataset.boardReady || typeof window.Sortable === "undefined") {
      return;
    }
    board.dataset.boardReady = "1";
    var message = document.getElementById("board-message");
    var lossModalElement = document.getElementById("loss-modal");
    var lossForm = document.getElementById("loss-form");
    var pending = null; // the drop waiting for a loss reason

    function column(list) {
      return list.closest("[data-stage].deal-column");
    }

    function showMessage(text, rule) {
      message.textContent = text;
      message.dataset.rule = rule || "";
      message.classList.remove("d-none");
    }

    function hideMessage() {
      message.textContent = "";
      message.dataset.rule = "";
      message.classList.add("d-none");
    }

    function adjust(section, countDelta, budgetDelta) {
      var count = parseInt(section.dataset.count, 10) + countDelta;
      var budget = parseFloat(section.dataset.budget) + budgetDelta;
      section.dataset.count = String(count);
      section.dataset.budget = budget.toFixed(2);
      section.querySelector("[data-column-count]").textContent = String(count);
      section.querySelector("[data-column-budget]").textContent = roubles(budget);
    }

    function putBack(drop) {
      var before = drop.from.children[drop.oldIndex] || null;
      drop.from.insertBefore(drop.item, before);
    }

    function send(drop, extra) {
      var item = drop.item;
      var body = new FormData();
      body.append("stage", drop.to.dataset.stage);
      body.append("version", item.dataset.version);
      Object.keys(extra || {}).forEach(function (key) {
        body.append(key, extra[key]);
      });
      item.classList.add("opacity-50");
      // The board holds the URL of deal 0; a card is the same URL with its own number.
      var url = board.dataset.moveUrl.replace(/\/0\/move\/$/, "/" + item.dataset.deal + "/move/");
      fetch(url, {
        method: "POST",
        body: body,
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" },
      })
        .then(function (response) {
          return response.json().then(function (data) {
            return { ok: response.ok, data: data };
          });
        })
        .then(function (result) {
          item.classList.remove("opacity-50");
          if (!result.ok) {
            putBack(drop);
            showMessage(result.data.message || board.dataset.errorNetwork, result.data.rule);
            return;
          }
          var budget = parseFloat(item.dataset.budget) || 0;
          adjust(column(drop.from), -1, -budget);
          adjust(column(drop.to), 1, budget);
          // The server's card: new version, "0 days in the stage".
          item.insertAdjacentHTML("afterend", result.data.html);
          item.remove();
          hideMessage();
          board.dispatchEvent(
            new CustomEvent("deal:moved", { bubbles: true, detail: result.data })
          );
        })
        .catch(function () {
          item.classList.remove("opacity-50");
          putBack(drop);
          showMessage(board.dataset.errorNetwork, "network");
        });
    }

    if (lossModalElement && lossForm && window.bootstrap) {
      var lossModal = window.bootstrap.Modal.getOrCreateInstance(lossModalElement);
      lossForm.addEventListener("submit", function (event) {
        event.preventDefault();
        var drop = pending;
        pending = null;
        lossModal.hide();
        if (drop) {
          send(drop, {
            loss_reason: lossForm.elements.loss_reason.value,
            reason: lossForm.elements.reason.value,
          });
        }
      });
      // Closed without an answer: the deal stays where it was.
      lossModalElement.addEventListener("hidden.bs.modal", function () {
        if (pending) {
          putBack(pending);
          pending = null;
        }
      });
      board.askLossReason = function (drop) {
        pending = drop;
        lossForm.reset();
        lossModal.show();
      };
    }

    board.querySelectorAll("[data-board-list]").forEach(function (list) {
      window.Sortable.create(list, {
        group: "deals",
        sort: false, // the order inside a stage is by last activity, not by hand
        draggable: ".deal-card",
        animation: 120,
        onEnd: function (event) {
          if (event.from === event.to) {
            return;
          }
          var drop = { item: event.item, from: event.from, to: event.to, oldIndex: event.oldIndex };
          if (column(event.to).dataset.lost === "1" && board.askLossReason) {
            board.askLossReason(drop);
          } else {
            send(drop, {});
          }
        },
      });
    });
  }

  function init() {
    document.querySelectorAll("#deal-board").forEach(initBoard);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
