/* Tables of the overview, regressions and machines pages: search and filters (the overview's sparklines:
   sparklines.js). */
"use strict";

(() => {
  const table = document.getElementById("rows");
  if (!table) { MM.ready(); return; }
  // the overview's rows past its first screen, parsed inert (build.py: FIRST_SCREEN_ROWS), go live now
  const more = document.getElementById("more-rows");
  if (more) {
    table.tBodies[0].appendChild(more.content);
    more.remove();
  }
  MM.filterTable(table);
  MM.ready();
})();
