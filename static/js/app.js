// Small progressive enhancements; every page works without this file.
document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});

// A framed mail (the digest preview) as tall as its content, so nothing is cut off. The frame
// is same-origin but may run no script of its own; its height is set from here (CSP allows
// style set through the CSSOM, not inline style attributes).
function fitFrame(frame) {
  const doc = frame.contentDocument;
  if (doc && doc.documentElement) {
    frame.style.height = `${doc.documentElement.scrollHeight}px`;
  }
}
document.querySelectorAll("iframe[data-fit-content]").forEach((frame) => {
  frame.addEventListener("load", () => fitFrame(frame));
  if (frame.contentDocument && frame.contentDocument.readyState === "complete") {
    fitFrame(frame);
  }
});
window.addEventListener("resize", () => {
  document.querySelectorAll("iframe[data-fit-content]").forEach(fitFrame);
});
