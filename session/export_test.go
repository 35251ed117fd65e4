package session

// ForwardData is forwardData, for the external tests.
var ForwardData = forwardData
