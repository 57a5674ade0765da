// A Copy button next to a readonly field (data-copy-from="<input id>"). Without this script the button stays
// hidden and the field's text can be selected and copied by hand.
for (const button of document.querySelectorAll("button[data-copy-from]")) {
  const field = document.getElementById(button.dataset.copyFrom);
  const status = document.getElementById(button.dataset.copyStatus);
  button.hidden = false;
  button.addEventListener("click", async () => {
    field.select();
    try {
      await navigator.clipboard.writeText(field.value);
      status.textContent = "Copied.";
    } catch {
      status.textContent = "Selected: press Ctrl+C (or ⌘C) to copy.";
    }
  });
}
