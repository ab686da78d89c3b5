// MathJax 3 configuration, as Material for MkDocs documents it for pymdownx.arithmatex (generic mode); the notebook
// pages (mkdocs-jupyter, class jupyter-wrapper) write their math between $…$ and $$…$$, typeset as well. Everything
// else is left alone (ignoreHtmlClass), so a "$" in a page's text or code is never read as math.
window.MathJax = {
  tex: {inlineMath: [["\\(", "\\)"], ["$", "$"]], displayMath: [["\\[", "\\]"], ["$$", "$$"]],
        processEscapes: true, processEnvironments: true},
  options: {ignoreHtmlClass: ".*|", processHtmlClass: "arithmatex|jupyter-wrapper"}
};
document$.subscribe(() => { MathJax.startup.output.clearCache(); MathJax.typesetClear(); MathJax.texReset();
                            MathJax.typesetPromise(); });
