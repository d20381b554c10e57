// The printable complaint card: its Print button opens the browser's print dialog (A4, see layout.css).
const button = document.getElementById("print-card");
if (button) button.addEventListener("click", () => window.print());
