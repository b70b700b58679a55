/* Team page: each segment of a mix bar grows with its count (data-grow). Set through the
   CSSOM because the Content Security Policy refuses inline style attributes. */
(function () {
  "use strict";
  for (const part of document.querySelectorAll(".mix-part[data-grow]")) {
    part.style.flexGrow = part.dataset.grow;
  }
})();
