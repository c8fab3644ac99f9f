/* Heat Ledger web UI, the counter (收费): a button with data-print prints the page (a receipt, the
   day journal); the print stylesheet leaves out the navigation and the buttons. */
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-print]") : null;
    if (button) { window.print(); }
  });
})();
