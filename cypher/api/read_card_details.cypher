// BIN and last 4 digits of cards named in evidence, so viewers get the card mask rather than a bare hash.
UNWIND $values AS v
MATCH (c:PaymentInstrument {instrument_id: v})
RETURN v AS value, c.bin AS bin, c.last4 AS last4
