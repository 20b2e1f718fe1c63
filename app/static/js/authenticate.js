// 3-D Secure: let the pledger's bank confirm a payment, then tell our server to check it.
const form = document.getElementById("authenticate-form");

if (form && window.Stripe) {
  const stripe = window.Stripe(form.dataset.stripeKey);
  const errorBox = document.getElementById("authenticate-error");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button");
    button.disabled = true;
    const result = await stripe.confirmCardPayment(form.dataset.clientSecret);
    if (result.error) {
      errorBox.textContent = result.error.message || "Your bank did not confirm the payment. You can try again.";
      errorBox.hidden = false;
      button.disabled = false;
      return;
    }
    form.submit();
  });
}
