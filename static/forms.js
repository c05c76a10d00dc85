// Progressive enhancement for the hosted checkout and the admin pages.
// Every page works without this file: the server already makes a form sent
// twice act once (the checkout answers the same order; each admin action
// carries a nonce). This only stops a second click from sending a form
// again while the first is on its way, says that it is being sent, and
// puts the button back when the browser restores the page from its cache.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.getAttribute("data-sending") === "1") {
      event.preventDefault();
      return;
    }
    form.setAttribute("data-sending", "1");
    var button = form.querySelector("button[type=submit][data-busy]");
    if (button) {
      button.setAttribute("data-label", button.textContent);
      button.setAttribute("aria-disabled", "true");
      button.textContent = button.getAttribute("data-busy");
    }
  });

  // A page restored from the back-forward cache must be usable again.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) {
      return;
    }
    var forms = document.querySelectorAll("form[data-sending]");
    for (var i = 0; i < forms.length; i++) {
      forms[i].removeAttribute("data-sending");
      var button = forms[i].querySelector("button[type=submit][data-label]");
      if (button) {
        button.removeAttribute("aria-disabled");
        button.textContent = button.getAttribute("data-label");
      }
    }
  });
})();
