"""Protocol-faithful fakes of the providers (Twilio, Resend, Gemini text and Live), served over real sockets."""
