// Card capture with Stripe.js: save the card with a SetupIntent, then post its id to our server,
// which checks it with Stripe and charges or commits the pledge.
const form = document.getElementById("card-form");

if (form && window.Stripe) {
  const stripe = window.Stripe(form.dataset.stripeKey);
  const card = stripe.elements().create("card", { hidePostalCode: false });
  card.mount("#card-element");

  const errorBox = document.getElementById("card-error");
  const group = document.getElementById("card-group");
  const button = document.getElementById("card-submit");

  const showError = (message) => {
    errorBox.textContent = message;
    errorBox.hidden = false;
    group.classList.add("govuk-form-group--error");
    button.disabled = false;
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    errorBox.hidden = true;
    group.classList.remove("govuk-form-group--error");
    const result = await stripe.confirmCardSetup(form.dataset.clientSecret, {
      payment_method: {
        card,
        billing_details: { name: form.dataset.name, email: form.dataset.email },
      },
    });
    if (result.error) {
      showError(result.error.message || "Your card could not be saved. Check the details and try again.");
      return;
    }
    document.getElementById("setup_intent").value = result.setupIntent.id;
    form.submit();
  });
}
