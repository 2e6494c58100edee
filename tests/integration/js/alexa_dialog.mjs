// A multi-turn dialogue with hydrant's Alexa skill through virtual-alexa (Bespoken), which
// turns utterances into IntentRequests from the interaction model `hydrant alexa-model` printed.
// Usage: node alexa_dialog.mjs SKILL_URL MODEL_FILE SKILL_ID
// Prints one JSON line per turn: {"turn": ..., "response": <the skill's envelope>}.
import pkg from "virtual-alexa";

const { VirtualAlexa } = pkg;
const [url, model, skillId] = process.argv.slice(2);
const alexa = VirtualAlexa.Builder()
  .skillURL(url)
  .interactionModelFile(model)
  .applicationID(skillId)
  .locale("en-US")
  .create();

const turns = [
  ["launch", () => alexa.launch()],
  ["list", () => alexa.utter("list my streams")],
  ["status orders", () => alexa.utter("how is orders doing")],
  ["fresh it", () => alexa.utter("how fresh is it")],
  ["records it", () => alexa.utter("how many records came in")],
  ["other one", () => alexa.utter("what about click stream")],
  ["wrong it", () => alexa.utter("is anything wrong")],
  ["intend span", () => alexa.intend("IncomingRecordsIntent", { stream: "orders", span: "PT1H" })],
  ["help", () => alexa.utter("help")],
  ["stop", () => alexa.utter("stop")],
];
for (const [turn, fn] of turns) {
  const response = await fn();
  console.log(JSON.stringify({ turn, response }));
}
