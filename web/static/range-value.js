// Shows a slider's value as a percentage next to it while it moves (the input keeps the API's 0.7).
for (const slider of document.querySelectorAll("input[type=range][data-percent-output]")) {
  const output = document.getElementById(slider.dataset.percentOutput);
  slider.addEventListener("input", () => {
    const percent = `${Math.round(Number(slider.value) * 100)}%`;
    output.textContent = percent;
    slider.setAttribute("aria-valuetext", percent);
  });
}
