// Reads a JSON array of Adaptive Cards on stdin and prints, for each, the list of what
// Microsoft's Adaptive Cards SDK reports when it parses and validates the card (an empty
// list: the card is valid for the SDK). Used by the chat channel tests.
const path = require("path");
const AC = require(path.join(__dirname, "node_modules/adaptivecards/dist/adaptivecards.js"));

let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const results = JSON.parse(input).map((json) => {
    const problems = [];
    const card = new AC.AdaptiveCard();
    const context = new AC.SerializationContext();
    // Teams renders 1.5 at most; a card must not ask for more.
    context.targetVersion = AC.Versions.v1_5;
    card.parse(json, context);
    for (let i = 0; i < context.eventCount; i++) problems.push(context.getEventAt(i).message);
    const validation = card.validateProperties();
    for (let i = 0; i < validation.validationEvents.length; i++) {
      problems.push(validation.validationEvents[i].message);
    }
    if (json.type !== "AdaptiveCard") problems.push(`type is ${json.type}, not AdaptiveCard`);
    if (!AC.Version.parse(json.version, context)) problems.push(`version ${json.version} does not parse`);
    return problems;
  });
  process.stdout.write(JSON.stringify(results));
});
